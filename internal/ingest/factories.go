package ingest

import (
	"context"
	"log/slog"

	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/source"
	"github.com/attendance-pipeline/attnd/internal/source/ftpsrc"
)

// FTPFactory returns the FTP/FTPS source factory; every failed FTP attempt
// is counted in errs (attnd_ingest_source_errors_total by source and op).
// errs may be nil.
func FTPFactory(errs obs.SourceErrors) Factory {
	if errs == nil {
		errs = obs.NopSourceErrors{}
	}
	return func(ctx context.Context, spec source.Spec, logger *slog.Logger) (source.Source, error) {
		name := spec.Name
		return ftpsrc.New(ctx, spec, logger, ftpsrc.Options{OnError: func(op string) { errs.SourceError(name, op) }})
	}
}

// Factories are the source implementations by config type (dir, ftp): what
// `ingest run` builds its sources with.
func Factories(metrics *obs.IngestMetrics) map[string]Factory {
	var errs obs.SourceErrors = obs.NopSourceErrors{}
	if metrics != nil {
		errs = metrics
	}
	return map[string]Factory{"dir": DirFactory, "ftp": FTPFactory(errs)}
}
