package obs

import (
	"github.com/prometheus/client_golang/prometheus"
)

// SourceErrors is what a source (FTP) reports its failures through; op names
// the operation (dial, login, list, retr, rename, delete, ...). Implementations
// must be safe for concurrent use. A nil-safe no-op is NopSourceErrors.
type SourceErrors interface {
	SourceError(source, op string)
}

// NopSourceErrors counts nothing.
type NopSourceErrors struct{}

// SourceError does nothing.
func (NopSourceErrors) SourceError(string, string) {}

// IngestMetrics are the ingest's metrics (attnd_ingest_*).
type IngestMetrics struct {
	FilesByState  *prometheus.GaugeVec     // ledger entries by state
	Files         *prometheus.CounterVec   // files handled, by source and outcome
	Events        *prometheus.CounterVec   // punches acknowledged by Kafka, by source
	Rejects       *prometheus.CounterVec   // rejects acknowledged by Kafka, by source
	Bytes         *prometheus.CounterVec   // bytes of files read, by source
	SourceErrs    *prometheus.CounterVec   // source errors (FTP), by source and op
	KafkaLatency  *prometheus.HistogramVec // one WriteMessages call, by outcome
	KafkaMessages *prometheus.CounterVec   // messages written, by topic
}

// NewIngestMetrics creates the ingest metrics and registers them on reg.
func NewIngestMetrics(reg prometheus.Registerer) *IngestMetrics {
	m := &IngestMetrics{
		FilesByState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "attnd_ingest_files", Help: "Files in the ledger by state."}, []string{"state"}),
		Files:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_ingest_files_total", Help: "Files handled, by source and outcome (done, failed, quarantined, duplicate)."}, []string{"source", "outcome"}),
		Events:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_ingest_events_total", Help: "Punch events acknowledged by Kafka."}, []string{"source"}),
		Rejects:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_ingest_rejects_total", Help: "Rejects acknowledged by Kafka."}, []string{"source"}),
		Bytes:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_ingest_bytes_total", Help: "Bytes of drop files read."}, []string{"source"}),
		SourceErrs:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_ingest_source_errors_total", Help: "Source (FTP, folder) errors by operation."}, []string{"source", "op"}),
		KafkaLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "attnd_ingest_kafka_write_seconds",
			Help:    "Latency of one acknowledged Kafka write (a chunk of a file).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"outcome"}),
		KafkaMessages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "attnd_ingest_kafka_messages_total", Help: "Messages acknowledged by Kafka, by topic."}, []string{"topic"}),
	}
	reg.MustRegister(m.FilesByState, m.Files, m.Events, m.Rejects, m.Bytes, m.SourceErrs, m.KafkaLatency, m.KafkaMessages)
	return m
}

// InitSource creates the per-source series at zero, so that "no file from
// this source for N hours" (increase(...) == 0) can fire for a source that has
// produced nothing since the ingest started.
func (m *IngestMetrics) InitSource(source string) {
	for _, o := range []string{"done", "failed", "quarantined", "duplicate"} {
		m.Files.WithLabelValues(source, o)
	}
	m.Events.WithLabelValues(source)
	m.Rejects.WithLabelValues(source)
	m.Bytes.WithLabelValues(source)
}

// SourceError implements SourceErrors.
func (m *IngestMetrics) SourceError(source, op string) {
	m.SourceErrs.WithLabelValues(source, op).Inc()
}
