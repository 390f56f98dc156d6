package database

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsUnavailable reports whether err means the database could not serve the
// statement at all: unreachable, restarting, out of connections or disk. The
// HTTP layer answers it 503 with Retry-After, not 500: it is not a bug, and
// the same request may succeed in a moment.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true // whatever the server said while refusing us
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),                           // insufficient resources (too many connections, disk full)
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // shutting down, crashed, starting up
			return true
		}
		return false
	}
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_FULL || c == sqlite3.SQLITE_IOERR || c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_CANTOPEN
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true
	}
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ENOSPC) ||
		pgconn.SafeToRetry(err)
}

// IsStorageFull reports whether the database could not write because its
// disk is full (SQLite's SQLITE_FULL, PostgreSQL's disk_full): one of the
// IsUnavailable cases, told apart so that the answer can say so. A write
// refused this way was not committed; once space is freed the same request
// succeeds.
func IsStorageFull(err error) bool {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code == "53100"
	}
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		return se.Code()&0xff == sqlite3.SQLITE_FULL
	}
	return errors.Is(err, syscall.ENOSPC)
}

// IsInvalidValue reports whether the database refused a value the client
// sent: text that is not valid UTF-8 or holds NUL (PostgreSQL stores
// neither), a number out of range, a value too long for a column or an
// index. Validation should catch these first; this is the net that turns
// what it misses into 422, not 500.
func IsInvalidValue(err error) bool {
	pe, ok := errors.AsType[*pgconn.PgError](err)
	if !ok {
		return false
	}
	switch pe.Code {
	case "22021", // character_not_in_repertoire: invalid UTF-8 or NUL
		"22P05", // untranslatable_character
		"22001", // string_data_right_truncation
		"22003", // numeric_value_out_of_range
		"22P02", // invalid_text_representation
		"54000": // program_limit_exceeded: index row too large
		return true
	}
	return false
}
