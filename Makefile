# planq. The README's two commands are `make demo` and `make test`; `make install` and
# `make uninstall` put planq on a machine (DESTDIR and PREFIX respected, for packagers).
SWIFT ?= swift
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= /etc/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
BASHCOMPDIR ?= /usr/share/bash-completion/completions
ZSHCOMPDIR ?= /usr/share/zsh/site-functions
FISHCOMPDIR ?= /usr/share/fish/vendor_completions.d
RELEASE_BUILD = .build-release
# The binary to install: the release build by default; `make install DESTDIR=STAGE BIN=path` installs
# another (the tests stage the debug binary they built, so that one build serves them all).
BIN ?=
INSTALL_BIN = $(if $(BIN),$(BIN),$(RELEASE_BUILD)/release/planq)
UNITS = planq-worker.service planq-worker@.service planq-prune.service planq-prune.timer

.PHONY: deps build release test demo bench install uninstall clean

deps:
	@scripts/install-deps

## A debug build; its output is shown only when it fails, else one summary line.
build: deps
	@echo "== building planq (swift build; the first build takes a few minutes)"
	@start=$$(date +%s); log=$$(mktemp /tmp/planq-build.XXXXXX); \
	if $(SWIFT) build >$$log 2>&1; then \
		echo "built $$($(SWIFT) build --show-bin-path)/planq in $$(( $$(date +%s) - start )) s"; rm -f $$log; \
	else cat $$log; rm -f $$log; exit 1; fi

## Build once and pass every test: the Swift tests, then the install and the systemd units with the
## same binary; fails on a warning from planq's own code, or if anything on the host changed.
test: deps
	@SWIFT=$(SWIFT) scripts/test

## Build planq and run its main job end to end on the sample plans in Examples/.
demo: build
	@scripts/demo

## planq and Huey 3.5.4 side by side on this machine, both at their defaults (bench/peers/run;
## Huey goes into a virtual environment of its own under ~/.cache/planq-bench).
bench: release
	bench/peers/run --planq $(RELEASE_BUILD)/release/planq

## A release binary with the Swift runtime linked in: it needs only libsqlite3 and libc on the target.
release:
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(RELEASE_BUILD)

## Install the binary, the systemd units (ExecStart pointing at BINDIR), the sysusers file and shell
## completions. As root on a live system it also creates the planq user and reloads systemd.
install: $(if $(BIN),,release)
	install -Dm755 -s $(INSTALL_BIN) $(DESTDIR)$(BINDIR)/planq
	for unit in $(UNITS); do \
		sed 's|/usr/local/bin/planq|$(BINDIR)/planq|g' systemd/$$unit > systemd/.$$unit.tmp && \
		install -Dm644 systemd/.$$unit.tmp $(DESTDIR)$(UNITDIR)/$$unit && rm systemd/.$$unit.tmp || exit 1; \
	done
	install -Dm644 systemd/planq.sysusers $(DESTDIR)$(SYSUSERSDIR)/planq.conf
	mkdir -p $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	$(INSTALL_BIN) --generate-completion-script bash > $(DESTDIR)$(BASHCOMPDIR)/planq
	$(INSTALL_BIN) --generate-completion-script zsh > $(DESTDIR)$(ZSHCOMPDIR)/_planq
	$(INSTALL_BIN) --generate-completion-script fish > $(DESTDIR)$(FISHCOMPDIR)/planq.fish
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		systemd-sysusers $(SYSUSERSDIR)/planq.conf 2>/dev/null || \
			getent passwd planq >/dev/null || useradd --system --user-group --home-dir /var/lib/planq --shell /usr/sbin/nologin planq; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi

## Remove what install put in place (the database in /var/lib/planq and the planq user stay).
uninstall:
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl disable --now planq-worker.service planq-prune.timer 2>/dev/null || true; \
	fi
	rm -f $(DESTDIR)$(BINDIR)/planq $(DESTDIR)$(SYSUSERSDIR)/planq.conf
	for unit in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$unit; done
	rm -f $(DESTDIR)$(BASHCOMPDIR)/planq $(DESTDIR)$(ZSHCOMPDIR)/_planq $(DESTDIR)$(FISHCOMPDIR)/planq.fish
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

clean:
	rm -rf .build $(RELEASE_BUILD) demo.db demo.db-wal demo.db-shm
