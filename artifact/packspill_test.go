package artifact

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// A stream compressed through gzipSpill, written in small pieces and with
// compressors reused from earlier streams, has
// exactly the bytes of one written at once to a writer with packBlockSize
// blocks, whether it is shorter than a block (compressed with buffers
// sized to it) or longer (spilled to the parallel writer), and it
// decompresses to the stream.
func TestGzipSpillSameBytesAsBlockWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// The writers are shared by every case, so each but the first reuses
	// compressors that wrote other streams at other block sizes.
	writers := &gzipWriters{}
	words := []string{"apiVersion: v1\n", "kind: ConfigMap\n", "metadata:\n", "  name: ", "data:\n", "  key: value\n"}
	for _, size := range []int{1, 1024, 16384, 70000, packBlockSize - 1, packBlockSize, packBlockSize + 5, 3*packBlockSize + 7} {
		for _, level := range []int{gzip.DefaultCompression, gzip.BestSpeed, gzip.BestCompression} {
			t.Run(fmt.Sprintf("%d bytes, level %d", size, level), func(t *testing.T) {
				var b bytes.Buffer
				for b.Len() < size {
					if rng.IntN(4) == 0 {
						fmt.Fprintf(&b, "%x", rng.Uint64())
					} else {
						b.WriteString(words[rng.IntN(len(words))])
					}
				}
				stream := b.Bytes()[:size]

				var want bytes.Buffer
				ref, err := newPackWriter(&want, level, packBlockSize, packBlocks())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ref.Write(stream); err != nil {
					t.Fatal(err)
				}
				if err := ref.Close(); err != nil {
					t.Fatal(err)
				}

				var got bytes.Buffer
				sp := &gzipSpill{w: &got, level: level, writers: writers}
				for rest := stream; len(rest) > 0; {
					n := min(len(rest), 1+rng.IntN(8192))
					if _, err := sp.Write(rest[:n]); err != nil {
						t.Fatal(err)
					}
					rest = rest[n:]
				}
				if err := sp.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Fatalf("%d compressed bytes differ from the block writer's %d", got.Len(), want.Len())
				}
				zr, err := gzip.NewReader(&got)
				if err != nil {
					t.Fatal(err)
				}
				back, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(back, stream) {
					t.Fatalf("decompressed %d bytes (%v), want the %d written", len(back), err, len(stream))
				}
			})
		}
	}
}
