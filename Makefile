# planq — the README's two commands are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: deps build test demo clean

deps:
	scripts/install-deps

build: deps
	$(SWIFT) build

## Build and pass every test.
test: deps
	$(SWIFT) test --disable-xctest

## Build planq and run its main job end to end on the sample plans in Examples/.
demo: build
	scripts/demo

clean:
	rm -rf .build demo.db demo.db-wal demo.db-shm
