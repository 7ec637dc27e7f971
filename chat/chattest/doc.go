// Package chattest holds what the tests of several packages share: one
// contract suite per chat interface (Store, Broker, Limiter, Queue, ...) that
// every implementation runs against the real backend (SQLite, MariaDB, Redis),
// the connection settings of those services (KOROBKA_TEST_MYSQL_DSN,
// KOROBKA_TEST_REDIS_URL; KOROBKA_TEST_REQUIRE_SERVICES=1 turns a missing
// service into a failure), and the OpenAPI validator of schemas/openapi.yaml.
package chattest
