package chat

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
)

// FormatID renders an id as the opaque string clients see.
func FormatID(id int64) string { return strconv.FormatInt(id, 10) }

// ParseID reads an id a client sent, strictly: the canonical form FormatID
// writes, decimal digits with no sign, no leading zero and no spaces, so one
// id has one spelling ("+17" and "017" are not 17). Anything else is
// ErrNotFound: to a client an id that cannot exist and one that does not
// are the same thing.
func ParseID(s string) (int64, error) {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return 0, ErrNotFound
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrNotFound
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, ErrNotFound
	}
	return id, nil
}

// NewID returns a random positive 63-bit id. Users and sessions get random
// ids so that they cannot be enumerated or counted from the outside.
func NewID() int64 {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	id := int64(binary.BigEndian.Uint64(b[:]) >> 1)
	if id == 0 {
		return 1
	}
	return id
}

// NewToken returns a random bearer token (256 bits, URL-safe) and the hash
// that is stored in its place.
func NewToken() (token string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken is the stored form of a bearer token. Tokens carry 256 bits of
// entropy, so a plain SHA-256 is enough: there is nothing to brute-force.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
