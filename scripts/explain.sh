#!/usr/bin/env bash
# EXPLAIN ANALYZE of the blog's hot list queries on PostgreSQL at 1k, 10k and
# 100k articles: a scratch database migrated by `tungsten migrate`, filled
# with synthetic rows by SQL (seeding 100k articles through the API would take
# half an hour), then every query of GET /api/articles (count + page, with
# and without filters), the feed and search. Plans go to
# test-artifacts/explain/<n>.txt, execution times to
# test-artifacts/explain/summary.md. Tables are VACUUM ANALYZEd first (the steady
# state autovacuum keeps: statistics and the visibility map that index-only
# scans need). The database is dropped at exit.
#
# The SQL mirrors internal/blog/adapters/sqlstore/list.go (ListArticles and
# where); keep them in step when that file changes.
#
# Environment: TUNGSTEN_BIN, TUNGSTEN_TEST_POSTGRES_URL (scripts/deps.sh),
# EXPLAIN_SIZES (default "1000 10000 100000").
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TUNGSTEN_REPO"
: "${TUNGSTEN_TEST_POSTGRES_URL:=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
ensure_binary
need_cmd psql postgresql-client

ART=$TUNGSTEN_REPO/test-artifacts/explain
rm -rf "$ART"
mkdir -p "$ART"
DB="tungsten_explain_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
admin() { PGCONNECT_TIMEOUT=5 timeout 60 psql "$TUNGSTEN_TEST_POSTGRES_URL" -XqAt -v ON_ERROR_STOP=1 "$@"; }
admin -c "CREATE DATABASE $DB"
on_exit "admin -c 'DROP DATABASE IF EXISTS $DB WITH (FORCE)' >/dev/null || warn 'could not drop $DB'"
q=""
[[ "$TUNGSTEN_TEST_POSTGRES_URL" == *\?* ]] && q="?${TUNGSTEN_TEST_POSTGRES_URL#*\?}"
base=${TUNGSTEN_TEST_POSTGRES_URL%%\?*}
URL="${base%/*}/$DB$q"
timeout 120 "$TUNGSTEN_BIN" migrate --target=blog --postgres-url "$URL" >"$ART/migrate.log" 2>&1 ||
	{ cat "$ART/migrate.log" >&2; die "tungsten migrate failed"; }
db() { timeout 900 psql "$URL" -XqAt -v ON_ERROR_STOP=1 -c "SET search_path TO blog" "$@"; }

# The queries, as list.go builds them (columns of articleColumns; $-parameters inlined).
COLS="a.id, a.slug, a.title, a.description, a.author_id, a.author_username, a.category, a.favorites_count, a.created_at, a.updated_at"
declare -A QUERY=(
	[list-count]="SELECT COUNT(*) FROM articles a"
	[list-page]="SELECT $COLS FROM articles a ORDER BY a.created_at DESC, a.id DESC LIMIT 20 OFFSET 0"
	[list-page-offset-1000]="SELECT $COLS FROM articles a ORDER BY a.created_at DESC, a.id DESC LIMIT 20 OFFSET 1000"
	[list-tags-of-page]="SELECT article_id, tag FROM article_tags WHERE article_id IN (SELECT id FROM articles ORDER BY created_at DESC, id DESC LIMIT 20) ORDER BY article_id, tag"
	[tag-count]="SELECT COUNT(*) FROM articles a WHERE a.id IN (SELECT article_id FROM article_tags WHERE tag = 'go')"
	[tag-page]="SELECT $COLS FROM articles a WHERE a.id IN (SELECT article_id FROM article_tags WHERE tag = 'go') ORDER BY a.created_at DESC, a.id DESC LIMIT 20 OFFSET 0"
	[category-page]="SELECT $COLS FROM articles a WHERE a.category = 'technology' ORDER BY a.created_at DESC, a.id DESC LIMIT 20 OFFSET 0"
	[feed-count]="SELECT COUNT(*) FROM articles a WHERE a.author_id IN (SELECT followee_id FROM author_follows WHERE follower_id = 1 AND following = true)"
	[feed-page]="SELECT $COLS FROM articles a WHERE a.author_id IN (SELECT followee_id FROM author_follows WHERE follower_id = 1 AND following = true) ORDER BY a.created_at DESC, a.id DESC LIMIT 20 OFFSET 0"
	[search-count]="SELECT COUNT(*) FROM articles a WHERE a.search @@ plainto_tsquery('simple', 'kubernetes')"
	[search-page]="SELECT $COLS FROM articles a WHERE a.search @@ plainto_tsquery('simple', 'kubernetes') ORDER BY a.created_at DESC, a.id DESC LIMIT 20 OFFSET 0"
)
NAMES=(list-count list-page list-page-offset-1000 list-tags-of-page tag-count tag-page category-page feed-count feed-page search-count search-page)

read -ra SIZES <<<"${EXPLAIN_SIZES:-1000 10000 100000}"
{
	printf '| query |'
	for n in "${SIZES[@]}"; do printf ' %s articles |' "$n"; done
	printf '\n|---|'
	for _ in "${SIZES[@]}"; do printf -- '---:|'; done
	printf '\n'
} >"$ART/header.md"
declare -A TIME
for n in "${SIZES[@]}"; do
	log "filling $n articles (200 authors, 3 tags each, 10% in 'technology', 5 follows for user 1)"
	db -c "TRUNCATE articles, article_tags, favorites, comments, authors, author_follows RESTART IDENTITY CASCADE" \
		-c "INSERT INTO authors (id, username, username_key, version) SELECT i, 'user' || i, 'user' || i, 1 FROM generate_series(1, 200) i" \
		-c "INSERT INTO author_follows SELECT 1, f, true, 0 FROM generate_series(2, 6) f" \
		-c "INSERT INTO articles (slug, title, description, body, author_id, author_username, category, created_at, updated_at)
			SELECT 'a-' || i, 'Title ' || i || CASE WHEN i % 7 = 0 THEN ' Kubernetes' ELSE '' END, 'about ' || i,
				repeat('Some body text about caches and latency. ', 20) || CASE WHEN i % 7 = 0 THEN ' kubernetes 쿠버네티스' ELSE '' END,
				1 + i % 200, 'user' || (1 + i % 200), CASE WHEN i % 10 = 0 THEN 'technology' END, 1700000000000 + i * 1000, 1700000000000 + i * 1000
			FROM generate_series(1, $n) i" \
		-c "INSERT INTO article_tags SELECT id, t FROM articles, unnest(ARRAY['go', 'redis', 'tag' || (id % 50)]) t WHERE id % 3 = 0 OR t <> 'go'" \
		-c "VACUUM ANALYZE"
	: >"$ART/$n.txt"
	for name in "${NAMES[@]}"; do
		plan=$(db -c "EXPLAIN (ANALYZE, BUFFERS) ${QUERY[$name]}")
		printf '### %s\n%s\n\n%s\n\n' "$name" "${QUERY[$name]}" "$plan" >>"$ART/$n.txt"
		TIME[$name,$n]=$(sed -n 's/^Execution Time: \(.*\) ms$/\1/p' <<<"$plan")
	done
done
{
	cat "$ART/header.md"
	for name in "${NAMES[@]}"; do
		printf '| %s |' "$name"
		for n in "${SIZES[@]}"; do printf ' %s ms |' "${TIME[$name,$n]}"; done
		printf '\n'
	done
} >"$ART/summary.md"
rm -f "$ART/header.md"
cat "$ART/summary.md"
log "plans in test-artifacts/explain/<size>.txt"
