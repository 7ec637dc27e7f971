package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/disintegration/imaging"
	"golang.org/x/image/webp"
	"golang.org/x/sync/semaphore"

	"github.com/korobka/korobka/chat"
)

// Bounded decoding. A small file can cost a great deal to decode: a 140 KB
// progressive JPEG with a thousand scans makes the decoder walk every block
// of a 36-megapixel image a thousand times (13 CPU-seconds), and a 230 KB
// 16-bit PNG of 6300 x 6300 decodes to 320 MB. So before anything is
// decoded, the header alone decides what decoding will cost:
//
//   - JPEG: the segments are walked the way image/jpeg walks them, counting
//     scans (SOS) up to MaxScans and reading the frame header (SOF) for the
//     components, their sampling and whether the file is progressive;
//   - PNG: the colour model (colour type and bit depth) and interlacing;
//   - GIF: one byte a pixel (only the first frame is decoded);
//   - WebP: lossy or lossless, from its chunks.
//
// That gives the bytes the decoder will allocate, plus one 8-bit RGBA copy
// of the image (rotation, cropping) and the output; over MaxDecodeBytes the
// image is refused. An admitted image then reserves its cost from one of
// two budgets: the small one for images of at most SmallDecodeBytes, the
// large one for the rest, so a burst of large photos never makes a small
// avatar wait. A decode that cannot get its budget within DecodeWait is
// refused (503 media_busy), and a cancelled request stops between stages
// and, through its reader, inside the decoder.

// Decoding defaults, applied field by field to a zero Limits.
const (
	DefaultMaxScans          = 32
	DefaultMaxDecodeBytes    = 256 << 20
	DefaultSmallDecodeBytes  = 32 << 20
	DefaultSmallDecodeBudget = 128 << 20
	DefaultDecodeWait        = 10 * time.Second
)

// rgbaCopy is the bytes a pixel costs in the one 8-bit RGBA copy that
// orienting, cropping or resizing makes (imaging works on *image.NRGBA).
const rgbaCopy = 4

func errTooComplex(max int) error {
	return chat.Errorf(chat.KindInvalid, "image_too_complex", "The image has too many progressive scans (at most %d).", max)
}

func errBusy() error {
	return chat.Errorf(chat.KindUnavailable, "media_busy", "The server is busy with other images; try again in a minute.")
}

// imageInfo is what the header of an image says decoding it will cost.
type imageInfo struct {
	format        string // "jpeg", "png", "gif" or "webp"
	width, height int
	scans         int   // JPEG: the scans the decoder would run
	decodedBytes  int64 // what the decoder allocates
	decode        func(io.Reader) (image.Image, error)
}

// cost is the bytes decoding and re-encoding the image holds at its peak:
// the decoder's allocations, one RGBA copy, and the output and its
// flattened copy for encoding, fitted into outSide.
func (i imageInfo) cost(outSide int) int64 {
	w, h := int64(i.width), int64(i.height)
	ow, oh := min(w, int64(outSide)), min(h, int64(outSide))
	return i.decodedBytes + rgbaCopy*w*h + 2*rgbaCopy*ow*oh
}

// inspect sniffs data and reads what decoding it would cost, refusing
// what is over the caps: nothing is decoded here beyond the header. Each
// sniffed type is decoded by its own decoder, so a file can never be
// sniffed as one format and parsed as another.
func (s *Store) inspect(data []byte, outSide int) (imageInfo, error) {
	var (
		info         imageInfo
		decodeConfig func(io.Reader) (image.Config, error)
	)
	switch http.DetectContentType(data) {
	case "image/jpeg":
		// Only JPEG carries EXIF orientation in practice; phones store
		// photos sideways and rely on the tag.
		info.format, decodeConfig = "jpeg", jpeg.DecodeConfig
		info.decode = func(r io.Reader) (image.Image, error) {
			return imaging.Decode(r, imaging.AutoOrientation(true))
		}
	case "image/png":
		info.format, decodeConfig, info.decode = "png", png.DecodeConfig, png.Decode
	case "image/gif":
		// The first frame only: neither avatars nor previews move.
		info.format, decodeConfig, info.decode = "gif", gif.DecodeConfig, gif.Decode
	case "image/webp":
		info.format, decodeConfig, info.decode = "webp", webp.DecodeConfig, webp.Decode
	default:
		return imageInfo{}, errUnsupported()
	}

	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return imageInfo{}, errInvalid(err)
	}
	info.width, info.height = cfg.Width, cfg.Height
	w, h := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || h <= 0 {
		return imageInfo{}, errInvalid(fmt.Errorf("empty image %dx%d", w, h))
	}
	if w > int64(s.limits.MaxSide) || h > int64(s.limits.MaxSide) || w*h > s.limits.MaxPixels {
		return imageInfo{}, errTooLarge()
	}

	switch info.format {
	case "jpeg":
		jh, err := walkJPEG(data, s.limits.MaxScans)
		if err != nil {
			return imageInfo{}, errInvalid(err)
		}
		info.scans = jh.scans
		if jh.scans > s.limits.MaxScans {
			return imageInfo{}, errTooComplex(s.limits.MaxScans)
		}
		info.decodedBytes = jh.decodedBytes()
	case "png":
		info.decodedBytes = bytesPerPixel(cfg.ColorModel) * w * h
		if pngInterlaced(data) {
			// Each Adam7 pass is decoded into its own image and then
			// merged into the whole.
			info.decodedBytes *= 2
		}
	case "gif":
		info.decodedBytes = w * h // paletted
	case "webp":
		if webpLossless(data) {
			// NRGBA pixels, and as much again for a colour-indexing
			// transform.
			info.decodedBytes = 8 * w * h
		} else {
			// YCbCr 4:2:0 and an alpha plane.
			info.decodedBytes = w*h*3/2 + w*h
		}
	}
	if info.cost(outSide) > s.limits.MaxDecodeBytes {
		return imageInfo{}, errTooLarge()
	}
	return info, nil
}

// bytesPerPixel is what the decoders store a pixel of a colour model in.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4 // RGBA, NRGBA, and anything unforeseen
}

// pngInterlaced reads the interlace method of a PNG's IHDR, which
// png.DecodeConfig has already checked is the first chunk.
func pngInterlaced(data []byte) bool {
	return len(data) > 28 && string(data[12:16]) == "IHDR" && data[28] != 0
}

// webpLossless reports whether a WebP's image chunk is VP8L; when none is
// found the answer is the costlier one.
func webpLossless(data []byte) bool {
	for i := 12; i+8 <= len(data); {
		switch string(data[i : i+4]) {
		case "VP8 ":
			return false
		case "VP8L":
			return true
		}
		n := int(binary.LittleEndian.Uint32(data[i+4 : i+8]))
		if n < 0 || n > len(data) {
			break
		}
		i += 8 + n + n&1
	}
	return true
}

// jpegHeader is what walkJPEG learned of a JPEG.
type jpegHeader struct {
	scans       int
	progressive bool
	width       int
	height      int
	comps       []jpegComp
	jfif        bool
	adobe       bool // an Adobe APP14 segment, with transform
	transform   byte
}

type jpegComp struct{ id, h, v byte }

// walkJPEG walks a JPEG's segments exactly as image/jpeg's decoder does
// (extraneous bytes, fill bytes, "\xff\x00" and restart markers are
// skipped the same way, and an entropy-coded segment is skipped like the
// extraneous data the decoder treats it as once a scan is done), so the
// scans it counts are the scans the decoder would run. It stops counting
// once there are more than maxScans, and at the end of the image; what the
// decoder would refuse is left to it.
func walkJPEG(data []byte, maxScans int) (jpegHeader, error) {
	var jh jpegHeader
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return jh, errors.New("missing SOI marker")
	}
	i := 2
	for i < len(data) && jh.scans <= maxScans {
		if data[i] != 0xFF {
			i++ // extraneous data, entropy-coded data included
			continue
		}
		if i+1 >= len(data) {
			break
		}
		marker := data[i+1]
		i += 2
		if marker == 0x00 {
			continue // "\xff\x00": extraneous data
		}
		for marker == 0xFF { // fill bytes
			if i >= len(data) {
				return jh, nil
			}
			marker = data[i]
			i++
		}
		if marker == 0xD9 { // EOI
			break
		}
		if 0xD0 <= marker && marker <= 0xD7 { // RST0-7: no length
			continue
		}
		if i+2 > len(data) {
			break
		}
		n := int(data[i])<<8 | int(data[i+1]) - 2
		i += 2
		if n < 0 || i+n > len(data) {
			break // the decoder fails here
		}
		seg := data[i : i+n]
		switch marker {
		case 0xC0, 0xC1, 0xC2: // SOF0, SOF1, SOF2
			if len(jh.comps) > 0 || len(seg) < 6 {
				break // the decoder refuses a second or short SOF
			}
			jh.progressive = marker == 0xC2
			jh.height = int(seg[1])<<8 | int(seg[2])
			jh.width = int(seg[3])<<8 | int(seg[4])
			for c := 6; c+3 <= len(seg) && len(jh.comps) < int(seg[5]); c += 3 {
				jh.comps = append(jh.comps, jpegComp{id: seg[c], h: seg[c+1] >> 4, v: seg[c+1] & 15})
			}
		case 0xDA: // SOS: the scan's data follows the header
			jh.scans++
		case 0xE0: // APP0
			if len(seg) >= 5 && string(seg[:5]) == "JFIF\x00" {
				jh.jfif = true
			}
		case 0xEE: // APP14
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				jh.adobe, jh.transform = true, seg[11]
			}
		}
		i += n
	}
	if len(jh.comps) == 0 {
		return jh, errors.New("missing SOF marker")
	}
	return jh, nil
}

// decodedBytes is what image/jpeg allocates for the image: a plane per
// component rounded up to whole MCUs, 64 int32 coefficients a block more
// when progressive, and a converted copy for RGB and CMYK files.
func (jh jpegHeader) decodedBytes() int64 {
	hmax, vmax := 1, 1
	if len(jh.comps) > 1 {
		for _, c := range jh.comps {
			hmax, vmax = max(hmax, int(c.h)), max(vmax, int(c.v))
		}
	}
	mxx := int64((jh.width + 8*hmax - 1) / (8 * hmax))
	myy := int64((jh.height + 8*vmax - 1) / (8 * vmax))
	var blocks int64
	for _, c := range jh.comps {
		hv := int64(c.h) * int64(c.v)
		if len(jh.comps) == 1 {
			hv = 1 // the decoder treats a grey image as 1x1
		}
		blocks += mxx * myy * hv
	}
	n := 64 * blocks // one byte a sample
	if jh.progressive {
		n += 64 * 4 * blocks // int32 coefficients per block
	}
	w, h := int64(jh.width), int64(jh.height)
	switch {
	case len(jh.comps) == 4: // CMYK or YCbCrK: converted to CMYK
		n += 4 * w * h
	case len(jh.comps) == 3 && !jh.jfif && (jh.adobe && jh.transform == 0 ||
		jh.comps[0].id == 'R' && jh.comps[1].id == 'G' && jh.comps[2].id == 'B'): // RGB: converted to RGBA
		n += 4 * w * h
	}
	return n
}

// budget is one pool of decoding memory: decodes reserve their cost from
// it and give it back when their output is encoded.
type budget struct {
	sem   *semaphore.Weighted
	size  int64
	inUse atomic.Int64
	count atomic.Int64 // decodes admitted
}

func newBudget(size int64) *budget {
	return &budget{sem: semaphore.NewWeighted(size), size: size}
}

// DecodeStats is what the decoding budgets hold and have done since the
// Store was made, for metrics and tests.
type DecodeStats struct {
	SmallInUse, LargeInUse int64 // bytes reserved now
	Small, Large           int64 // decodes admitted by each budget
	Busy                   int64 // decodes refused after DecodeWait
}

// DecodeStats returns the budgets' counters.
func (s *Store) DecodeStats() DecodeStats {
	return DecodeStats{
		SmallInUse: s.small.inUse.Load(),
		LargeInUse: s.large.inUse.Load(),
		Small:      s.small.count.Load(),
		Large:      s.large.count.Load(),
		Busy:       s.busy.Load(),
	}
}

// reserve takes cost bytes from the budget the image belongs to, waiting
// at most DecodeWait; release gives them back.
func (s *Store) reserve(ctx context.Context, cost int64) (release func(), err error) {
	b := s.large
	if cost <= s.limits.SmallDecodeBytes {
		b = s.small
	}
	wctx, cancel := context.WithTimeout(ctx, s.limits.DecodeWait)
	defer cancel()
	if err := b.sem.Acquire(wctx, cost); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.busy.Add(1)
		return nil, errBusy()
	}
	b.inUse.Add(cost)
	b.count.Add(1)
	return func() {
		b.inUse.Add(-cost)
		b.sem.Release(cost)
	}, nil
}

// decode inspects data, reserves its cost and decodes it, reading through
// ctx so that a cancelled request stops the decoder at its next read. The
// caller resizes and encodes the image, then calls release.
func (s *Store) decode(ctx context.Context, data []byte, outSide int) (img image.Image, release func(), err error) {
	info, err := s.inspect(data, outSide)
	if err != nil {
		return nil, nil, err
	}
	free, err := s.reserve(ctx, info.cost(outSide))
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			free()
		}
	}()
	img, err = info.decode(ctxReader{ctx, bytes.NewReader(data)})
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if err != nil {
		return nil, nil, errInvalid(err)
	}
	if b := img.Bounds(); b.Empty() {
		return nil, nil, errInvalid(errors.New("decoded an empty image"))
	}
	return img, free, nil
}
