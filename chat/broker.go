package chat

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
)

// Publication is one payload for one topic.
type Publication struct {
	Topic   string
	Payload []byte
}

// Broker carries events between nodes: every node that subscribed to a
// topic receives what any node publishes to it. Delivery is best effort and
// in order per publisher; the database, not the broker, is the source of
// truth, and clients that miss events resume with sync. The memory Broker
// serves one node; the Redis Broker many. Both pass chattest.TestBroker.
type Broker interface {
	// Publish sends each publication to its topic's subscribers on every
	// node, in order. Implementations pipeline the batch.
	Publish(ctx context.Context, pubs ...Publication) error
	// Subscribe makes this node receive topic's publications in h,
	// replacing any earlier handler of the topic. h may run concurrently
	// with other handlers and must not block. h may keep the payload:
	// publishers never modify a payload after Publish.
	Subscribe(ctx context.Context, topic string, h func(payload []byte)) error
	// Unsubscribe stops delivery of topic to this node.
	Unsubscribe(ctx context.Context, topic string) error
	Close() error
}

// Presence tracks which users hold a live connection on any node. The
// gateway reports a user's first and last connection on its node; the
// answers say whether that changed the user's state across all nodes.
type Presence interface {
	// Connect records that this node holds a connection of userID and
	// reports whether the user was offline everywhere before.
	Connect(ctx context.Context, userID int64) (cameOnline bool, err error)
	// Disconnect records that this node holds no connection of userID any
	// more and reports whether the user is now offline everywhere.
	Disconnect(ctx context.Context, userID int64) (wentOffline bool, err error)
	// Online reports which of the users are connected somewhere.
	Online(ctx context.Context, userIDs []int64) (map[int64]bool, error)
}

// SocketCounter caps the live WebSocket connections of each user across
// every node. A node counts a connection when it opens and lets it go when
// it closes; a node that dies without letting go stops counting within a
// TTL (the Redis implementation refreshes its entries while they live), so
// a crash never locks a user out. The memory SocketCounter serves one
// node; the Redis one many. Both pass chattest.TestSocketCounter.
type SocketCounter interface {
	// Acquire counts connection connID of userID. When the user then holds
	// more than max, their oldest connections (by Acquire) stop being
	// counted and are returned, oldest first, for the caller to close
	// wherever they live (the EnvCloseConn envelope).
	Acquire(ctx context.Context, userID, connID int64, max int) (evicted []int64, err error)
	// Release stops counting a connection; one not counted is no error.
	Release(ctx context.Context, userID, connID int64) error
}

// UserTopic is the broker topic of everything addressed to one user: the
// gateway of every node holding a connection of the user subscribes to it.
func UserTopic(userID int64) string { return "u:" + strconv.FormatInt(userID, 10) }

// Envelope kinds, the first byte of every payload on a user topic.
const (
	// EnvFrame carries a frame for the user's connections, except the
	// connection whose id is in the header (the sender's own device, which
	// gets a reply instead); 0 skips none.
	EnvFrame byte = 1
	// EnvCloseFamily closes the user's connections of the session family
	// in the header: the session ended (logout, refresh-token reuse).
	EnvCloseFamily byte = 2
	// EnvCloseUser closes every connection of the user: all of their
	// sessions ended (a block, a role change); the header id is unused.
	EnvCloseUser byte = 3
	// EnvCloseConn closes the one connection whose id is in the header:
	// the user opened more connections than allowed and it was the
	// oldest.
	EnvCloseConn byte = 4
)

// envelopeHeader is the kind byte and a big-endian int64.
const envelopeHeader = 9

// Envelope wraps a frame for a user topic.
func Envelope(kind byte, id int64, frame []byte) []byte {
	b := make([]byte, envelopeHeader+len(frame))
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:9], uint64(id))
	copy(b[envelopeHeader:], frame)
	return b
}

// OpenEnvelope splits a user-topic payload.
func OpenEnvelope(p []byte) (kind byte, id int64, frame []byte, err error) {
	if len(p) < envelopeHeader {
		return 0, 0, nil, errors.New("chat: short envelope")
	}
	return p[0], int64(binary.BigEndian.Uint64(p[1:9])), p[envelopeHeader:], nil
}

// appendEvent adds one publication of e to each user's topic, all sharing
// one encoded payload. origin is the connection to skip (0: none); skip is
// a user not to address (0: none), such as the one who caused the event.
func appendEvent(pubs []Publication, e Event, origin int64, users []int64, skip int64) []Publication {
	payload := Envelope(EnvFrame, origin, EncodeEvent(e))
	for _, uid := range users {
		if uid != skip {
			pubs = append(pubs, Publication{Topic: UserTopic(uid), Payload: payload})
		}
	}
	return pubs
}
