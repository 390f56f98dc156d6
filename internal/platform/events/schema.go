package events

import (
	"embed"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

//go:embed migrations
var migrationsFS embed.FS

// VersionTable is the goose version table of Migrations, apart from the
// service's own (goose_db_version) so that the two sets number
// independently.
const VersionTable = "goose_db_version_events"

// Migrations creates the tables this package reads and writes: outbox
// (Enqueue, Relay) and processed_events (Consumer). It is the one
// definition of them (ADR 0019): a service whose database produces or
// consumes events lists this set before its own in its migrations, and
// `tungsten migrate` and --migrate-on-start apply both.
var Migrations = database.MigrationSet{FS: database.EmbeddedMigrations(migrationsFS), Table: VersionTable}
