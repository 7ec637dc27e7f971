package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/korobka/korobka/chat"
)

var _ chat.SMSSender = (*SMSRu)(nil)

// DefaultSMSRuURL is the sms.ru API root.
const DefaultSMSRuURL = "https://sms.ru"

// maxResponse caps how much of an answer is read: a real one is a few
// hundred bytes, and a broken proxy must not make us buffer megabytes.
const maxResponse = 64 << 10

// SMSRu sends through the sms.ru HTTP API. The api_id goes in a POST body,
// never in the URL, so it cannot leak through the URLs that net/http puts in
// its errors, nor through proxy access logs.
//
// An SMSRu is safe for concurrent use.
type SMSRu struct {
	apiID   string
	baseURL string
	client  *http.Client
}

// Option configures an SMSRu.
type Option func(*SMSRu)

// WithBaseURL points the sender at another root than DefaultSMSRuURL: a
// fake server in tests, or a proxy.
func WithBaseURL(u string) Option {
	return func(s *SMSRu) { s.baseURL = strings.TrimRight(u, "/") }
}

// WithHTTPClient replaces the default client, which gives up after ten
// seconds so a hung provider cannot hold a login request forever.
func WithHTTPClient(c *http.Client) Option {
	return func(s *SMSRu) { s.client = c }
}

// NewSMSRu returns a sender using the account's api_id.
func NewSMSRu(apiID string, opts ...Option) *SMSRu {
	s := &SMSRu{
		apiID:   apiID,
		baseURL: DefaultSMSRuURL,
		client:  &http.Client{Timeout: 10 * time.Second},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ProviderError is a refusal reported by sms.ru, kept as the cause of the
// *chat.Error that SendSMS returns so operators can see the provider's code
// (for example 200 for a wrong api_id, 201 for no money, 202 for a bad
// number) in the log.
type ProviderError struct {
	StatusCode int    // sms.ru status_code
	StatusText string // sms.ru status_text, in Russian
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("sms.ru: status %d: %s", e.StatusCode, e.StatusText)
}

// smsRuAnswer is the JSON sms.ru answers with json=1.
type smsRuAnswer struct {
	Status     string                 `json:"status"`
	StatusCode int                    `json:"status_code"`
	StatusText string                 `json:"status_text"`
	SMS        map[string]smsRuResult `json:"sms"`
}

type smsRuResult struct {
	Status     string `json:"status"`
	StatusCode int    `json:"status_code"`
	StatusText string `json:"status_text"`
	SMSID      string `json:"sms_id"`
}

// SendSMS sends text to the E.164 phone. Failures are *chat.Error of kind
// Unavailable wrapping the cause (a *ProviderError when sms.ru refused), so
// the client is told to try later and the details reach only the log; a
// cancelled ctx is returned as is.
func (s *SMSRu) SendSMS(ctx context.Context, phone, text string) error {
	to, ok := strings.CutPrefix(phone, "+")
	if !ok || !allDigits(to) {
		return chat.Errorf(chat.KindInvalid, "invalid_phone", "The phone number is not valid.")
	}
	form := url.Values{
		"api_id": {s.apiID},
		"to":     {to},
		"msg":    {text},
		"json":   {"1"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.baseURL+"/sms/send", strings.NewReader(form.Encode()))
	if err != nil {
		return unavailable(fmt.Errorf("sms.ru: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := s.client.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return unavailable(fmt.Errorf("sms.ru: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return unavailable(fmt.Errorf("sms.ru: read answer: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return unavailable(fmt.Errorf("sms.ru: HTTP %s", resp.Status))
	}

	var ans smsRuAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return unavailable(fmt.Errorf("sms.ru: malformed answer: %w", err))
	}
	if ans.Status != "OK" {
		return unavailable(&ProviderError{StatusCode: ans.StatusCode, StatusText: ans.StatusText})
	}
	res, ok := ans.SMS[to]
	if !ok {
		return unavailable(errors.New("sms.ru: answer has no result for the number"))
	}
	if res.Status != "OK" {
		return unavailable(&ProviderError{StatusCode: res.StatusCode, StatusText: res.StatusText})
	}
	return nil
}

func unavailable(cause error) error {
	e := chat.Errorf(chat.KindUnavailable, "sms_unavailable", "The SMS could not be sent. Please try again later.")
	e.Err = cause
	return e
}

// allDigits reports whether s can be the digits of an E.164 number (at most
// 15). The service normalises numbers already; this only keeps odd input out
// of the provider's form.
func allDigits(s string) bool {
	if s == "" || len(s) > 15 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
