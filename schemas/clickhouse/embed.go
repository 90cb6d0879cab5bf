// Package chschema embeds the ClickHouse migration files of this folder
// (single node) and of cluster/ (sharded and replicated) so the binaries carry
// them; internal/history applies them.
package chschema

import "embed"

// FS holds NNN_name.sql at its root and the cluster variant under cluster/.
//
//go:embed *.sql cluster/*.sql
var FS embed.FS
