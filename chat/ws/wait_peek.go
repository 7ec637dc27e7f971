//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package ws

import "syscall"

// peekReadable reports whether socket fd has something to read, an end or
// an error, without taking it: false makes syscall.RawConn.Read wait for
// the socket to become readable and ask again.
var peekReadable = func(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
}
