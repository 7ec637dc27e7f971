package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/disintegration/imaging"

	"github.com/korobka/korobka/chat"
)

// Videos. An upload whose bytes start like an MP4, a QuickTime movie or a
// WebM file is a video: it is streamed to disk under Limits.MaxVideoBytes,
// then, when ffmpeg is configured, probed with ffprobe (which must find a
// video stream, or the upload is refused with invalid_video and nothing is
// kept) for its duration and displayed dimensions, and one frame is taken
// with ffmpeg as its poster. The poster is decoded and re-encoded like an
// image upload (bounded decoding, JPEG plus thumbnail). Without ffmpeg the
// video is kept unprobed with a generic poster.
//
// ffprobe and ffmpeg read the untrusted file, so they run with only the
// file protocol and the demuxers of the sniffed container (no playlists,
// no references to other files or URLs), one thread, a timeout
// (Limits.ProbeTimeout), bounded output, at most Limits.MaxProbes at once,
// and are killed when the request is cancelled.

// Video defaults.
const (
	DefaultProbeTimeout = 30 * time.Second
	DefaultMaxProbes    = 2
)

// posterSide bounds the frame ffmpeg extracts; maxPosterBytes its JPEG,
// maxProbeOutput ffprobe's JSON, maxToolStderr what is kept for the log.
const (
	posterSide     = 1280
	maxPosterBytes = 8 << 20
	maxProbeOutput = 64 << 10
	maxToolStderr  = 4 << 10
)

// Video types, as sniffed and as served.
const (
	mimeMP4       = "video/mp4"
	mimeQuickTime = "video/quicktime"
	mimeWebM      = "video/webm"
)

// IsVideoType reports whether mime is one of the video types the Store
// keeps as videos (and Handler serves inline, for players).
func IsVideoType(mime string) bool {
	return mime == mimeMP4 || mime == mimeQuickTime || mime == mimeWebM
}

// sniffVideo returns the video type of a file from its first bytes: an
// ISO base media file (MP4; QuickTime by its "qt  " brand or, in old
// movies without an ftyp box, by a leading moov, mdat, wide, free, skip or
// pnot atom) or an EBML file whose DocType is "webm". Audio-only MP4
// brands (M4A, M4B, M4P) and still-image ones (HEIF, AVIF) are not videos.
// "" for anything else.
func sniffVideo(head []byte) string {
	if len(head) >= 12 {
		box := string(head[4:8])
		size := uint32(head[0])<<24 | uint32(head[1])<<16 | uint32(head[2])<<8 | uint32(head[3])
		switch box {
		case "ftyp":
			switch brand := string(head[8:12]); brand {
			case "qt  ":
				return mimeQuickTime
			case "M4A ", "M4B ", "M4P ", "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis":
				return ""
			default:
				return mimeMP4
			}
		case "moov", "mdat", "wide", "free", "skip", "pnot":
			if size >= 8 || size == 0 || size == 1 {
				return mimeQuickTime
			}
		}
	}
	if len(head) >= 4 && bytes.Equal(head[:4], []byte{0x1A, 0x45, 0xDF, 0xA3}) {
		h := head[:min(len(head), 64)]
		if i := bytes.Index(h, []byte{0x42, 0x82}); i >= 0 && bytes.Contains(h[i:min(len(h), i+12)], []byte("webm")) {
			return mimeWebM
		}
	}
	return ""
}

// claimsVideo reports whether a file name says video, which the bytes
// must then bear out: the name never makes a video, but a ".mp4" that is
// not one is refused rather than kept as a file.
func claimsVideo(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".mp4", ".m4v", ".mov", ".qt", ".webm":
		return true
	}
	return false
}

func errVideoTooLarge(max int64) error {
	return chat.Errorf(chat.KindTooLarge, "video_too_large", "The video is over %d MiB.", max>>20)
}

func errInvalidVideo(cause error) error {
	e := chat.Errorf(chat.KindInvalid, "invalid_video", "The video could not be read; send an MP4, MOV or WebM file.")
	e.Err = cause
	return e
}

func errVideoBusy() error {
	return chat.Errorf(chat.KindUnavailable, "media_busy", "The server is busy with other videos; try again in a minute.")
}

// saveUploadVideo streams a sniffed video to a temp file, probes it and
// makes its poster, then puts the poster, the sidecar and the video in
// place (the .bin last, as in saveUploadFile).
func (s *Store) saveUploadVideo(ctx context.Context, r io.Reader, mime, name string) (_ chat.StoredMedia, err error) {
	key := newUploadKey()
	base := s.uploadBase(key)
	f, err := os.CreateTemp(filepath.Dir(base), ".tmp-*")
	if err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			for _, suffix := range []string{".jpg", "_thumb.jpg", ".json"} {
				_ = os.Remove(base + suffix)
			}
		}
	}()
	n, err := io.Copy(f, io.LimitReader(r, s.limits.MaxVideoBytes+1))
	if err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: write upload: %w", err)
	}
	if n > s.limits.MaxVideoBytes {
		return chat.StoredMedia{}, errVideoTooLarge(s.limits.MaxVideoBytes)
	}
	if err = f.Chmod(0o644); err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: %w", err)
	}
	if err = f.Sync(); err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: %w", err)
	}
	if err = f.Close(); err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: %w", err)
	}
	out := chat.StoredMedia{Kind: chat.UploadVideo, Key: key, Size: n, Mime: mime}
	var frame []byte
	if s.video != nil {
		info, poster, err := s.probeVideo(ctx, tmp, mime)
		if err != nil {
			return chat.StoredMedia{}, err
		}
		out.Width, out.Height, out.DurationMS = info.width, info.height, info.durationMS
		frame = poster
	}
	full, thumb, err := s.posterFiles(ctx, frame)
	if err != nil {
		return chat.StoredMedia{}, err
	}
	if err = writeFileAtomic(base+"_thumb.jpg", thumb); err != nil {
		return chat.StoredMedia{}, err
	}
	if err = writeFileAtomic(base+".jpg", full); err != nil {
		return chat.StoredMedia{}, err
	}
	meta, _ := json.Marshal(uploadMeta{Name: name, Mime: mime})
	if err = writeFileAtomic(base+".json", meta); err != nil {
		return chat.StoredMedia{}, err
	}
	if err = os.Rename(tmp, base+".bin"); err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: %w", err)
	}
	return out, nil
}

// posterFiles returns the poster and its thumbnail as JPEG: the frame
// re-encoded under the image limits, or the generic poster when there is
// no frame or it cannot be read.
func (s *Store) posterFiles(ctx context.Context, frame []byte) (full, thumb []byte, err error) {
	if len(frame) > 0 {
		full, thumb, _, _, err := s.imageVariants(ctx, frame)
		if err == nil {
			return full, thumb, nil
		}
		if ctx.Err() != nil || chat.ErrorOf(err).Code == "media_busy" {
			return nil, nil, err
		}
		// A frame ffmpeg made but we cannot read: the video is fine,
		// its poster generic.
	}
	p, err := genericPoster()
	if err != nil {
		return nil, nil, err
	}
	return p.full, p.thumb, nil
}

// genericPoster is drawn once per process.
var genericPoster = sync.OnceValues(func() (jpegPair, error) {
	full, err := encodeJPEG(drawGenericPoster(640, 360))
	if err != nil {
		return jpegPair{}, err
	}
	thumb, err := encodeJPEG(drawGenericPoster(320, 180))
	return jpegPair{full, thumb}, err
})

type jpegPair struct{ full, thumb []byte }

// drawGenericPoster draws the poster of a video that could not be probed:
// a dark frame with a light play triangle in a circle.
func drawGenericPoster(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := color.RGBA{0x2b, 0x2f, 0x36, 0xff}
	disc := color.RGBA{0x4a, 0x50, 0x5a, 0xff}
	fg := color.RGBA{0xf2, 0xf2, 0xf2, 0xff}
	cx, cy, rad := float64(w)/2, float64(h)/2, float64(min(w, h))/5
	for y := range h {
		for x := range w {
			px, py := float64(x)+0.5, float64(y)+0.5
			c := bg
			if math.Hypot(px-cx, py-cy) <= rad {
				c = disc
				// The triangle: left edge at cx-rad/3, tip at cx+rad/2.
				left, tip := cx-rad/3, cx+rad/2
				if px >= left && px <= tip {
					half := (tip - px) / (tip - left) * rad / 2
					if math.Abs(py-cy) <= half {
						c = fg
					}
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// videoInfo is what ffprobe told about a video.
type videoInfo struct {
	width, height int
	durationMS    int64
}

// videoTools runs ffprobe and ffmpeg.
type videoTools struct {
	ffmpeg, ffprobe string
	timeout         time.Duration
}

// demuxers returns the demuxers ffmpeg may use for a sniffed type.
func demuxers(mime string) string {
	if mime == mimeWebM {
		return "matroska,webm"
	}
	return "mov,mp4,m4a,3gp,3g2,mj2"
}

// probeVideo asks ffprobe for the first video stream of the file and
// ffmpeg for a poster frame, holding one of the probe slots. A file with
// no video stream, or that ffprobe cannot read, is invalid_video.
func (s *Store) probeVideo(ctx context.Context, path, mime string) (videoInfo, []byte, error) {
	wait, cancel := context.WithTimeout(ctx, s.limits.DecodeWait)
	defer cancel()
	select {
	case s.probes <- struct{}{}:
	case <-wait.Done():
		if err := ctx.Err(); err != nil {
			return videoInfo{}, nil, err
		}
		s.busy.Add(1)
		return videoInfo{}, nil, errVideoBusy()
	}
	defer func() { <-s.probes }()
	info, err := s.video.probe(ctx, path, mime)
	if err != nil {
		return videoInfo{}, nil, err
	}
	frame, err := s.video.frame(ctx, path, mime, info)
	if err != nil {
		if ctx.Err() != nil {
			return videoInfo{}, nil, ctx.Err()
		}
		frame = nil // probed fine; the poster falls back to the generic one
	}
	return info, frame, nil
}

// probe runs ffprobe on the file.
func (v *videoTools) probe(ctx context.Context, path, mime string) (videoInfo, error) {
	out, err := v.run(ctx, maxProbeOutput, v.ffprobe,
		"-v", "error", "-threads", "1",
		"-protocol_whitelist", "file", "-format_whitelist", demuxers(mime),
		"-select_streams", "v:0",
		"-show_entries", "format=duration:stream=codec_type,width,height,duration:stream_side_data=rotation",
		"-of", "json", "file:"+path)
	if err != nil {
		if ctx.Err() != nil {
			return videoInfo{}, ctx.Err()
		}
		return videoInfo{}, errInvalidVideo(err)
	}
	var p struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
			Duration  string `json:"duration"`
			SideData  []struct {
				Rotation float64 `json:"rotation"`
			} `json:"side_data_list"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		return videoInfo{}, errInvalidVideo(fmt.Errorf("ffprobe output: %w", err))
	}
	if len(p.Streams) == 0 || p.Streams[0].CodecType != "video" || p.Streams[0].Width <= 0 || p.Streams[0].Height <= 0 {
		return videoInfo{}, errInvalidVideo(errors.New("no video stream"))
	}
	st := p.Streams[0]
	info := videoInfo{width: st.Width, height: st.Height}
	for _, sd := range st.SideData {
		if r := int(math.Abs(sd.Rotation)) % 180; r == 90 {
			info.width, info.height = info.height, info.width
		}
	}
	for _, d := range []string{p.Format.Duration, st.Duration} {
		if sec, err := strconv.ParseFloat(d, 64); err == nil && sec > 0 && sec < 1e7 {
			info.durationMS = int64(math.Round(sec * 1000))
			break
		}
	}
	return info, nil
}

// frame has ffmpeg take one frame, a third into the video but at most a
// second in, fitted into posterSide and encoded as JPEG.
func (v *videoTools) frame(ctx context.Context, path, mime string, info videoInfo) ([]byte, error) {
	at := min(float64(info.durationMS)/3000, 1)
	fit := strconv.Itoa(posterSide)
	out, err := v.run(ctx, maxPosterBytes, v.ffmpeg,
		"-v", "error", "-nostdin", "-threads", "1",
		"-protocol_whitelist", "file", "-format_whitelist", demuxers(mime),
		"-ss", strconv.FormatFloat(at, 'f', 3, 64), "-i", "file:"+path,
		"-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn",
		"-vf", "scale='min("+fit+",iw)':'min("+fit+",ih)':force_original_aspect_ratio=decrease",
		"-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "3", "pipe:1")
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("ffmpeg made no frame")
	}
	return out, nil
}

// errToolOutput is a tool writing more than its cap.
var errToolOutput = errors.New("output over its cap")

// run runs a tool with the timeout, its standard output capped at max
// bytes (beyond it the tool is killed) and kept; standard error is kept
// (truncated) for the error. The tool is killed when ctx ends.
func (v *videoTools) run(ctx context.Context, max int, tool string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	stdout := &cappedBuffer{max: max, over: cancel}
	stderr := &cappedBuffer{max: maxToolStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A killed tool's children (none expected) must not hold the pipes.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if stdout.exceeded {
		return nil, fmt.Errorf("%s: %w", filepath.Base(tool), errToolOutput)
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s: %w", v.timeout, err)
		}
		return nil, fmt.Errorf("%s: %w: %s", filepath.Base(tool), err, strings.TrimSpace(stderr.buf.String()))
	}
	return stdout.buf.Bytes(), nil
}

// cappedBuffer keeps up to max bytes. Past that it keeps nothing more,
// and, when over is set, calls it (to kill the writer) and fails the
// write; without over it silently drops the rest.
type cappedBuffer struct {
	buf      bytes.Buffer
	max      int
	exceeded bool
	over     func()
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.buf.Write(p[:max(room, 0)])
		if b.over == nil {
			return len(p), nil
		}
		b.exceeded = true
		b.over()
		return 0, errToolOutput
	}
	return b.buf.Write(p)
}

// imageVariants decodes an image under the decoding limits and returns it
// fitted into UploadFullSize and UploadThumbSize as JPEG, with the full
// size's dimensions.
func (s *Store) imageVariants(ctx context.Context, data []byte) (fullJPEG, thumbJPEG []byte, width, height int, err error) {
	img, release, err := s.decode(ctx, data, UploadFullSize)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	defer release()
	// Fit returns the image unchanged (as a copy) when it already fits.
	full := imaging.Fit(img, UploadFullSize, UploadFullSize, imaging.Lanczos)
	if err := ctx.Err(); err != nil {
		return nil, nil, 0, 0, err
	}
	b := full.Bounds()
	thumb := imaging.Fit(full, UploadThumbSize, UploadThumbSize, imaging.Lanczos)
	if fullJPEG, err = encodeJPEG(full); err != nil {
		return nil, nil, 0, 0, err
	}
	if thumbJPEG, err = encodeJPEG(thumb); err != nil {
		return nil, nil, 0, 0, err
	}
	return fullJPEG, thumbJPEG, b.Dx(), b.Dy(), nil
}
