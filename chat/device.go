package chat

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Platform names a push service a device token belongs to.
type Platform string

// Push platforms. A token registered as fcm may belong to an Android or an
// iOS app (FCM forwards to APNs); one registered as apns is sent to Apple
// directly.
const (
	PlatformAPNs Platform = "apns"
	PlatformFCM  Platform = "fcm"
)

// Device is one push token of one app install, as stored. It belongs to the
// session family that registered it: it is removed when that session ends
// (logout, revocation) and receives nothing once the session has expired.
// A token registered again by another user moves to that user.
//
// Token is a secret (whoever holds it and the app's credentials can write
// on the user's lock screen): it is stored because APNs and FCM need it
// verbatim, and never logged in full (see RedactToken).
type Device struct {
	ID       int64
	UserID   int64
	Family   int64
	Platform Platform
	Token    string
	// AppID is the app's bundle id or package name; for APNs it is the
	// topic, "" meaning the server's configured one.
	AppID string
	// Locale is the app's language as a BCP 47 tag ("ru", "en-US"); push
	// texts are written in it, English when it is empty or unknown.
	Locale string
	// TimeZone is the device's IANA zone ("Europe/Moscow"), kept for
	// quiet hours and scheduled broadcasts; "" when not given.
	TimeZone  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DeviceStore keeps push devices.
type DeviceStore interface {
	// PutDevice stores d, keyed by its token: a token already stored for
	// any user is updated in place and moves to d.UserID and d.Family. It
	// then removes d.UserID's least recently updated devices beyond max,
	// so a user has at most max. It returns the stored device (its ID is
	// the existing one when the token was known) and the number of devices
	// it removed to keep the cap. An unknown user is ErrNotFound.
	PutDevice(ctx context.Context, d Device, max int) (stored Device, evicted int, err error)
	// DeleteDevice removes userID's device with the token; ErrNotFound
	// when userID has none with it.
	DeleteDevice(ctx context.Context, userID int64, token string) error
	// Devices returns the devices of the users that may receive pushes now:
	// their session family still has a session that is neither revoked nor
	// expired at now, and the user is not blocked. Any order.
	Devices(ctx context.Context, userIDs []int64, now time.Time) ([]Device, error)
	// RemoveDevice removes a device whose token a push service reported
	// dead, unless it changed since d was read (registered again, by
	// anyone: the token is alive again). It reports whether it removed it.
	RemoveDevice(ctx context.Context, d Device) (bool, error)
}

// Device limits and defaults.
const (
	// DefaultMaxDevices is how many devices a user keeps when the
	// configuration does not say: registering one more drops the least
	// recently updated.
	DefaultMaxDevices = 20
	// MaxDeviceTokenLen bounds a token. FCM registration tokens are
	// around 160 characters and APNs device tokens 64 hex digits today;
	// neither service promises a length, so the cap is generous.
	MaxDeviceTokenLen = 4096
	maxAppIDLen       = 255
	maxLocaleLen      = 35
	maxTimeZoneLen    = 64
)

// Device errors.
var (
	ErrInvalidPlatform    = &Error{Kind: KindInvalid, Code: "invalid_platform", Message: "platform is \"apns\" or \"fcm\"."}
	ErrInvalidDeviceToken = &Error{Kind: KindInvalid, Code: "invalid_device_token", Message: "token is the push token the platform gave the app: hex digits for apns, letters, digits and \":_-.\" for fcm."}
	ErrInvalidAppID       = &Error{Kind: KindInvalid, Code: "invalid_app_id", Message: "app_id is a bundle id or package name: letters, digits, '.', '_' and '-', at most 255."}
	ErrInvalidLocale      = &Error{Kind: KindInvalid, Code: "invalid_locale", Message: "locale is a language tag such as \"ru\" or \"en-US\"."}
	errDeviceNotFound     = &Error{Kind: KindNotFound, Code: "not_found", Message: "No such device."}
)

// DeviceRequest is what a shell sends to register its push token.
type DeviceRequest struct {
	Platform Platform
	Token    string
	AppID    string
	Locale   string
	TimeZone string
}

// DeviceView is a registered device as its owner sees it. The token is not
// echoed back: the shell has it, and answers are logged by proxies.
type DeviceView struct {
	ID        string    `json:"id"`
	Platform  Platform  `json:"platform"`
	AppID     string    `json:"app_id"`
	Locale    string    `json:"locale"`
	TimeZone  string    `json:"time_zone"`
	UpdatedAt time.Time `json:"updated_at"`
}

func deviceView(d Device) DeviceView {
	return DeviceView{
		ID:        FormatID(d.ID),
		Platform:  d.Platform,
		AppID:     d.AppID,
		Locale:    d.Locale,
		TimeZone:  d.TimeZone,
		UpdatedAt: d.UpdatedAt.UTC(),
	}
}

// RedactToken shortens a push token for logs and answers: enough of its
// start to tell devices apart, not enough to send to it.
func RedactToken(token string) string {
	if len(token) <= 8 {
		return "…"
	}
	return token[:8] + "…"
}

// limitDevicesPerUser bounds registrations: shells register at every start
// and on every token change, which is a few times a day.
var limitDevicesPerUser = Limit{Rate: 60, Period: time.Hour, Burst: 20}

// RegisterDevice stores the caller's push token for the caller's session,
// or updates it when it is already registered (by anyone: a token moves
// to the latest user who registers it). The user's oldest devices beyond
// the cap are dropped.
func (s *Service) RegisterDevice(ctx context.Context, p Principal, req DeviceRequest) (DeviceView, error) {
	d, err := checkDevice(req)
	if err != nil {
		return DeviceView{}, err
	}
	if err := s.allow(ctx, "device:user:"+FormatID(p.UserID), limitDevicesPerUser); err != nil {
		return DeviceView{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	d.ID, d.UserID, d.Family, d.CreatedAt, d.UpdatedAt = NewID(), p.UserID, p.Family, now, now
	stored, evicted, err := s.store.PutDevice(ctx, d, s.push.maxDevices)
	if err != nil {
		return DeviceView{}, err
	}
	if evicted > 0 {
		s.push.metrics.DevicesRemoved("evicted", evicted)
	}
	return deviceView(stored), nil
}

// UnregisterDevice removes one of the caller's push tokens (a shell does it
// when the user signs out or turns notifications off). A token the caller
// does not have is not found.
func (s *Service) UnregisterDevice(ctx context.Context, p Principal, token string) error {
	if token == "" || len(token) > MaxDeviceTokenLen {
		return errDeviceNotFound
	}
	if err := s.allow(ctx, "device:user:"+FormatID(p.UserID), limitDevicesPerUser); err != nil {
		return err
	}
	err := s.store.DeleteDevice(ctx, p.UserID, token)
	if errors.Is(err, ErrNotFound) {
		return errDeviceNotFound
	}
	return err
}

// checkDevice validates a registration and returns it as a Device.
func checkDevice(req DeviceRequest) (Device, error) {
	d := Device{
		Platform: req.Platform,
		Token:    strings.TrimSpace(req.Token),
		AppID:    strings.TrimSpace(req.AppID),
		Locale:   strings.TrimSpace(req.Locale),
		TimeZone: strings.TrimSpace(req.TimeZone),
	}
	switch d.Platform {
	case PlatformAPNs:
		if !tokenOf(d.Token, 16, isHex) {
			return Device{}, ErrInvalidDeviceToken
		}
		d.Token = strings.ToLower(d.Token)
	case PlatformFCM:
		if !tokenOf(d.Token, 16, isFCMTokenChar) {
			return Device{}, ErrInvalidDeviceToken
		}
	default:
		return Device{}, ErrInvalidPlatform
	}
	if len(d.AppID) > maxAppIDLen || !allOf(d.AppID, isAppIDChar) {
		return Device{}, ErrInvalidAppID
	}
	if len(d.Locale) > maxLocaleLen || !allOf(d.Locale, isLocaleChar) {
		return Device{}, ErrInvalidLocale
	}
	if d.TimeZone != "" {
		if _, err := ParseTimeZone(d.TimeZone); err != nil {
			return Device{}, err
		}
	}
	return d, nil
}

func tokenOf(s string, minLen int, ok func(byte) bool) bool {
	return len(s) >= minLen && len(s) <= MaxDeviceTokenLen && allOf(s, ok)
}

func allOf(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
func isFCMTokenChar(c byte) bool {
	return isAlnum(c) || c == ':' || c == '_' || c == '-' || c == '.'
}
func isAppIDChar(c byte) bool    { return isAlnum(c) || c == '.' || c == '_' || c == '-' }
func isLocaleChar(c byte) bool   { return isAlnum(c) || c == '-' || c == '_' }
func isTimeZoneChar(c byte) bool { return isAlnum(c) || c == '/' || c == '_' || c == '-' || c == '+' }
