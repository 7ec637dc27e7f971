// Package httpapi is the REST surface of the shell contract on gin (the only
// package that imports gin): routes.go lists every route on one page, the
// handlers depend on the small Service interface declared here rather than on
// *chat.Service, and every error answer goes through wire's one table from
// chat error kinds to HTTP statuses. schemas/openapi.yaml describes all of it.
package httpapi
