//go:build !unix

package ingest

import "time"

// processCPU is not measured off unix; the cpu-s/drop metric reads 0.
func processCPU() time.Duration { return 0 }
