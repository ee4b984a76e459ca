package s3

import (
	"fmt"
	"io"
	"net/http"

	"cairn/transport"
)

// maxBody bounds the body of every response but an object's: a page of a listing
// (up to 1000 keys, about 350 KiB of XML), an error, a bucket's region. The S3 client
// decodes a listing page whole and drains every body it is done with, so a server
// sending one without end would otherwise make it read (and for a listing, keep)
// everything it sends.
const maxBody = 16 << 20

// bodyCap is the round tripper under the S3 client: it cuts every response body but
// that of a successful object GET at maxBody bytes, failing the read with an error
// that wraps transport.ErrTooLarge. Object bodies pass as they are: transport.LoadMax
// bounds them where they are read.
type bodyCap struct{ next http.RoundTripper }

func (c bodyCap) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	object := req.Method == http.MethodGet && req.URL.RawQuery == "" && resp.StatusCode/100 == 2
	if !object {
		resp.Body = &cappedBody{ReadCloser: resp.Body, left: maxBody}
	}
	return resp, nil
}

// cappedBody fails once more than left bytes arrive.
type cappedBody struct {
	io.ReadCloser
	left int64
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, c.err()
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.ReadCloser.Read(p)
	if c.left -= int64(n); c.left < 0 {
		return n - 1, c.err()
	}
	return n, err
}

func (c *cappedBody) err() error {
	return fmt.Errorf("response body: %w", transport.TooLarge(-1, maxBody))
}
