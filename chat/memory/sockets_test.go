package memory

import (
	"testing"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
)

func TestSocketCounter(t *testing.T) {
	// One counter serves every gateway of the process.
	chattest.TestSocketCounter(t, func(t *testing.T) (chat.SocketCounter, chat.SocketCounter) {
		s := NewSocketCounter()
		return s, s
	})
}
