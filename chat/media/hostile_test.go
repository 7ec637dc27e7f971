package media

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// Hostile images, built byte by byte: small files that cost far more to
// decode than their size suggests.

// progressiveJPEG returns a valid grey progressive JPEG of w x h whose
// pixels are all mid-grey, coded as one DC scan and then acScans AC scans
// that cover every block with end-of-band runs of up to 32767 blocks. Each
// AC scan is a few bytes, yet a decoder walks every block of the image for
// it, so the work grows with acScans * w * h while the file stays small:
// the "1,000 scans" file of the issue.
func progressiveJPEG(t testing.TB, w, h, acScans int) []byte {
	t.Helper()
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	var b bytes.Buffer
	seg := func(marker byte, payload []byte) {
		b.Write([]byte{0xFF, marker})
		binary.Write(&b, binary.BigEndian, uint16(len(payload)+2))
		b.Write(payload)
	}
	b.Write([]byte{0xFF, 0xD8}) // SOI
	// DQT: table 0, 8-bit, all ones.
	seg(0xDB, append([]byte{0x00}, bytes.Repeat([]byte{1}, 64)...))
	// SOF2: 8-bit precision, h x w, one component (id 1, 1x1, table 0).
	seg(0xC2, []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})
	// DHT: a DC table (class 0, id 0) with one 1-bit code "0" for symbol
	// 0x00 (difference 0), and an AC table (class 1, id 0) with the 15
	// end-of-band runs EOB0..EOB14 (symbols 0x00..0xE0), 4-bit codes
	// 0000..1110 in that order.
	dc := make([]byte, 17)
	dc[1] = 1
	seg(0xC4, append(dc, 0x00))
	ac := make([]byte, 17)
	ac[0], ac[4] = 0x10, 15
	for r := range 15 {
		ac = append(ac, byte(r<<4))
	}
	seg(0xC4, ac)

	// The DC scan: one "0" bit per block.
	seg(0xDA, []byte{1, 1, 0x00, 0, 0, 0x00})
	b.Write(bitsToBytes(make([]bool, blocks)))

	// An AC scan: runs of at most 32767 blocks until every block is
	// covered; a run of n is EOBr (r = floor(log2 n)) and r more bits.
	var bits []bool
	put := func(v, n int) {
		for i := n - 1; i >= 0; i-- {
			bits = append(bits, v>>i&1 == 1)
		}
	}
	for left := blocks; left > 0; {
		n := min(left, 32767)
		r := 0
		for 1<<(r+1) <= n {
			r++
		}
		put(r, 4)
		put(n-1<<r, r)
		left -= n
	}
	data := bitsToBytes(bits)
	for range acScans {
		seg(0xDA, []byte{1, 1, 0x00, 1, 63, 0x00})
		b.Write(data)
	}
	b.Write([]byte{0xFF, 0xD9}) // EOI
	return b.Bytes()
}

// bitsToBytes packs bits MSB first, pads the last byte with ones and
// stuffs a zero after any 0xFF, as entropy-coded JPEG data is written.
func bitsToBytes(bits []bool) []byte {
	var out []byte
	var cur byte
	n := 0
	flush := func() {
		out = append(out, cur)
		if cur == 0xFF {
			out = append(out, 0x00)
		}
		cur, n = 0, 0
	}
	for _, bit := range bits {
		cur <<= 1
		if bit {
			cur |= 1
		}
		n++
		if n == 8 {
			flush()
		}
	}
	if n > 0 {
		cur = cur<<(8-n) | byte(1<<(8-n)-1)
		flush()
	}
	return out
}

// zeroPNG returns a valid w x h PNG of the colour type (0 grey, 2 RGB, 6
// RGBA) and bit depth (8 or 16) whose pixels are all zero: zlib squeezes
// the rows of zeros about a thousandfold, so a 16-bit RGB image of 6300 x
// 6300, 320 MB once decoded, is a file of 290 KB.
func zeroPNG(t testing.TB, w, h int, depth, colorType byte) []byte {
	t.Helper()
	return buildPNG(t, w, h, depth, colorType, true)
}

// pngHead is zeroPNG without its pixels: as much as a decoder reads before
// it allocates, for tests of decisions made from the header.
func pngHead(t testing.TB, w, h int, depth, colorType byte) []byte {
	t.Helper()
	return buildPNG(t, w, h, depth, colorType, false)
}

func buildPNG(t testing.TB, w, h int, depth, colorType byte, pixels bool) []byte {
	t.Helper()
	channels := map[byte]int{0: 1, 2: 3, 6: 4}[colorType]
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, colorType
	chunk("IHDR", ihdr)
	if !pixels {
		return b.Bytes()
	}
	n := h * (1 + w*channels*int(depth)/8) // each row: filter byte 0, then zeros
	chunk("IDAT", zlibZeros(t, n))
	chunk("IEND", nil)
	return b.Bytes()
}

// zlibZeros returns a zlib stream of n zero bytes, quickly: one megabyte of
// zeros is compressed once and its deflate blocks repeated, which is valid
// because each ends on a byte boundary (a sync flush) and refers only to
// zeros; the Adler-32 of n zeros is (n mod 65521) << 16 | 1.
func zlibZeros(t testing.TB, n int) []byte {
	t.Helper()
	compress := func(size int) []byte {
		var b bytes.Buffer
		fw, err := flate.NewWriter(&b, flate.BestSpeed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		if err := fw.Flush(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	const mb = 1 << 20
	var z bytes.Buffer
	z.Write([]byte{0x78, 0x01}) // deflate, 32 KiB window
	block := compress(mb)
	for range n / mb {
		z.Write(block)
	}
	if r := n % mb; r > 0 {
		z.Write(compress(r))
	}
	z.Write([]byte{0x03, 0x00}) // an empty final block
	binary.Write(&z, binary.BigEndian, uint32(n%65521)<<16|1)
	return z.Bytes()
}
