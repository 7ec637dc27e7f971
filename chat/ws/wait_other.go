//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package ws

// peekReadable is nil where the reader cannot peek at its socket: it then
// waits in gorilla's read.
var peekReadable func(fd uintptr) bool
