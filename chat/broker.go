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
	// EnvMessage is EnvFrame for a message event, with the message's
	// dialog, seq and change number after the header (MessageEnvelope), so
	// a connection that already got the message from a sync replay can
	// skip the live copy without decoding the frame.
	EnvMessage byte = 5
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

// OpenEnvelope splits a user-topic payload. For an EnvMessage the frame is
// the event's frame and mark what the envelope tells about its message.
func OpenEnvelope(p []byte) (kind byte, id int64, frame []byte, err error) {
	kind, id, frame, _, err = OpenEnvelopeMark(p)
	return kind, id, frame, err
}

// OpenEnvelopeMark is OpenEnvelope with the mark of an EnvMessage (zero for
// other kinds).
func OpenEnvelopeMark(p []byte) (kind byte, id int64, frame []byte, mark MessageMark, err error) {
	if len(p) < envelopeHeader {
		return 0, 0, nil, MessageMark{}, errors.New("chat: short envelope")
	}
	kind, id, frame = p[0], int64(binary.BigEndian.Uint64(p[1:9])), p[envelopeHeader:]
	if kind == EnvMessage {
		if mark, frame, err = openMessage(frame); err != nil {
			return 0, 0, nil, MessageMark{}, err
		}
	}
	return kind, id, frame, mark, nil
}

// IsFrame reports whether an envelope kind carries a frame for the user's
// connections (EnvFrame, EnvMessage).
func IsFrame(kind byte) bool { return kind == EnvFrame || kind == EnvMessage }

// messageHeader is what EnvMessage adds to the header: the dialog id, the
// seq and the change number, big-endian int64s, and a byte that is 1 when
// the event is a message's creation and 0 for an edit or a delete.
const messageHeader = 25

// MessageMark is what a MessageEnvelope tells about its message.
type MessageMark struct {
	DialogID, Seq, Change int64
	New                   bool // the message's creation, not an edit or delete
}

// MessageEnvelope wraps a message event for a user topic: kind
// EnvMessage, the connection to skip (origin, 0: none), the mark, the
// frame.
func MessageEnvelope(origin int64, m MessageMark, frame []byte) []byte {
	b := make([]byte, envelopeHeader+messageHeader+len(frame))
	b[0] = EnvMessage
	binary.BigEndian.PutUint64(b[1:9], uint64(origin))
	binary.BigEndian.PutUint64(b[9:17], uint64(m.DialogID))
	binary.BigEndian.PutUint64(b[17:25], uint64(m.Seq))
	binary.BigEndian.PutUint64(b[25:33], uint64(m.Change))
	if m.New {
		b[33] = 1
	}
	copy(b[envelopeHeader+messageHeader:], frame)
	return b
}

// openMessage splits what follows the header of an EnvMessage payload into
// the mark and the frame.
func openMessage(rest []byte) (MessageMark, []byte, error) {
	if len(rest) < messageHeader {
		return MessageMark{}, nil, errors.New("chat: short message envelope")
	}
	return MessageMark{
		DialogID: int64(binary.BigEndian.Uint64(rest[0:8])),
		Seq:      int64(binary.BigEndian.Uint64(rest[8:16])),
		Change:   int64(binary.BigEndian.Uint64(rest[16:24])),
		New:      rest[24] == 1,
	}, rest[messageHeader:], nil
}

// appendEvent adds one publication of e to each user's topic, all sharing
// one encoded payload. origin is the connection to skip (0: none); skip is
// a user not to address (0: none), such as the one who caused the event.
// Message events travel in a MessageEnvelope.
func appendEvent(pubs []Publication, e Event, origin int64, users []int64, skip int64) []Publication {
	var payload []byte
	if mark, ok := messageMark(e); ok {
		payload = MessageEnvelope(origin, mark, EncodeEvent(e))
	} else {
		payload = Envelope(EnvFrame, origin, EncodeEvent(e))
	}
	for _, uid := range users {
		if uid != skip {
			pubs = append(pubs, Publication{Topic: UserTopic(uid), Payload: payload})
		}
	}
	return pubs
}

// messageMark is the mark of a message event; ok is false for other
// events.
func messageMark(e Event) (MessageMark, bool) {
	if e.Type != EventMessage || e.Message == nil {
		return MessageMark{}, false
	}
	m := e.Message
	d, err := ParseID(m.DialogID)
	if err != nil {
		return MessageMark{}, false
	}
	return MessageMark{DialogID: d, Seq: m.Seq, Change: m.Change, New: m.EditedAt == nil && !m.Deleted}, true
}
