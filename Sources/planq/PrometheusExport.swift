import PlanCore
import PlanStore
import PlanWorker
import Prometheus

/// Figures in Prometheus's text format: what a worker counted (through swift-metrics, into this
/// registry) and, read from the store at each export, every queue's jobs by state, the age of its
/// oldest due job, and whether it is paused or held by its rate.
final class PrometheusExport: Sendable {
    let registry = PrometheusCollectorRegistry()

    /// A swift-metrics factory writing into `registry`, with buckets that fit planq's figures.
    var factory: PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[WorkerMetrics.commitDuration] =
            [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000].map { Duration.microseconds(Int64($0 * 1000)) }
        factory.valueHistogramBuckets[WorkerMetrics.commitBatchSize] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        return factory
    }

    /// The text to serve: the queue figures read now, then everything in the registry. When the
    /// store cannot be read, `planq_store_up` is 0 and the queue figures keep their last values.
    func text(store: any JobStore) async -> [UInt8] {
        let stats = try? await store.stats()
        gauge("store", "up", "1 when the last export could read the store, else 0.").set(Int64(stats == nil ? 0 : 1))
        if let stats { record(stats) }
        return registry.emitToBuffer()
    }

    /// The queue figures of `stats` alone (`stats --prometheus`).
    static func text(of stats: StoreStats) -> String {
        let export = PrometheusExport()
        export.record(stats)
        return export.registry.emitToString()
    }

    /// Sets the queue gauges from `stats`.
    func record(_ stats: StoreStats) {
        for queue in stats.queues {
            let name = ("queue", queue.queue)
            for state in JobState.allCases {
                gauge("queue_jobs", "", "Jobs in the store by queue and state.", [name, ("state", state.rawValue)])
                    .set(Int64(queue.counts[state] ?? 0))
            }
            gauge("queue_oldest_due_age", "seconds", "How long the queue's oldest due pending job has waited (0: none is due).", [name])
                .set(queue.oldestDueSeconds ?? 0)
            gauge("queue_paused", "", "1 while the queue is paused.", [name]).set(Int64(queue.paused ? 1 : 0))
            gauge("queue_rate_held", "", "1 while the queue's rate limit holds its jobs back.", [name]).set(Int64(queue.heldUntil == nil ? 0 : 1))
        }
    }

    private func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)] = []) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "planq", metricName: name, unitName: unit, helpText: help), labels: labels)
    }
}
