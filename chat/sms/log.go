// Package sms delivers login codes. LogSender is the embedded default: it
// writes the text to the log so a developer or a self-hosted operator can
// log in without a provider account. SMSRu sends through sms.ru, the usual
// provider of Russian businesses. Both implement chat.SMSSender, and
// further providers belong beside them.
package sms

import (
	"context"
	"log/slog"

	"github.com/korobka/korobka/chat"
)

var _ chat.SMSSender = (*LogSender)(nil)

// LogSender "sends" an SMS by logging it. The text usually holds a login
// code, so it must never be configured in production, where logs are
// shipped and read by people who are not the phone's owner.
type LogSender struct {
	log *slog.Logger
}

// NewLogSender returns a LogSender writing to l; a nil l discards, which
// suits tests that do not care about codes.
func NewLogSender(l *slog.Logger) *LogSender {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &LogSender{log: l}
}

// SendSMS logs the message at Info level, so it shows under the default
// level of `korobka serve`.
func (s *LogSender) SendSMS(ctx context.Context, phone, text string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "sms not sent: log-only sender", "phone", phone, "text", text)
	return nil
}
