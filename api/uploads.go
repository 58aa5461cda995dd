package api

import (
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fieldwatch/fieldwatch"
)

// uploadSlots caps uploads in flight: per user, so one phone replaying a
// backlog with 50 parallel requests cannot crowd out the others
// (docs/reliability.md#g3), and in all, so a burst past what the server can spool
// is refused early with Retry-After instead of failing late. Counters are
// per replica: they count requests, which live and die on one replica.
// Direct-upload sessions outlive their requests and are counted against
// the same caps in the database instead (CreateUpload).
type uploadSlots struct {
	mu      sync.Mutex
	perUser map[string]int
	total   int
	maxUser int
	maxAll  int
}

// The caps' errors are the domain's, so that the in-process slots here
// and the database-counted direct-upload sessions answer alike: 429 with
// Retry-After for a user's cap, 503 for the server's.
var (
	errUserUploadLimit   = fieldwatch.ErrUserUploadLimit
	errServerUploadLimit = fieldwatch.ErrUploadLimit
)

func newUploadSlots(perUser, total int) *uploadSlots {
	return &uploadSlots{perUser: map[string]int{}, maxUser: perUser, maxAll: total}
}

// acquire takes a slot for user, or says why not. Call release when done.
func (u *uploadSlots) acquire(user string) (release func(), err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.total >= u.maxAll:
		return nil, errServerUploadLimit
	case u.perUser[user] >= u.maxUser:
		return nil, errUserUploadLimit
	}
	u.total++
	u.perUser[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			u.mu.Lock()
			defer u.mu.Unlock()
			u.total--
			if u.perUser[user]--; u.perUser[user] == 0 {
				delete(u.perUser, user)
			}
		})
	}, nil
}

// streamBody prepares a streaming upload: the whole body is bounded (the
// photo limit plus room for the meta part and multipart framing), and
// each read extends the connection's read deadline by the idle timeout, so
// a live upload at 3G speed runs as long as it needs while a stalled or
// slowloris one is cut (docs/reliability.md#f14).
func (s *Server) streamBody(maxBody int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.ContentLength > maxBody {
				return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body too large")
			}
			rc := http.NewResponseController(c.Response().Writer)
			body := http.MaxBytesReader(c.Response(), req.Body, maxBody)
			req.Body = &idleReader{body: body, rc: rc, idle: s.cfg.UploadIdle, chunks: s.chunks}
			return next(c)
		}
	}
}

// formDataOnly answers a body that is not multipart/form-data as not
// multipart (415): the strict handler's MultipartReader would also read
// multipart/mixed, which the contract does not offer. A Content-Type that
// does not parse is left to MultipartReader, which refuses it alike.
func formDataOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
		if err == nil && mt != echo.MIMEMultipartForm {
			return http.ErrNotMultipart
		}
		return next(c)
	}
}

// idleReader extends the connection's read deadline by idle on every read
// from the socket, and reads ahead in chunks of readAheadSize. The
// multipart reader above it asks for at most 4 KiB at a time, so without
// the read-ahead a 4 MiB photo costs a thousand read system calls and
// deadline updates; with it, 128. The chunk is borrowed from a pool only
// while it holds bytes not yet passed on: a slow upload, whose every read
// returns what little has arrived, gives it back at once, so a thousand
// uploads trickling in at 3G speed do not hold a thousand chunks.
type idleReader struct {
	body interface {
		Read([]byte) (int, error)
		Close() error
	}
	rc   *http.ResponseController
	idle time.Duration

	chunks *sync.Pool // of *[readAheadSize]byte; nil: no read-ahead
	chunk  *[readAheadSize]byte
	r, w   int   // chunk[r:w] is read but not yet passed on
	err    error // the error that came with chunk's bytes, for after them
}

// readAheadSize is the read-ahead chunk of idleReader.
const readAheadSize = 32 << 10

func newChunkPool() *sync.Pool {
	return &sync.Pool{New: func() any { return new([readAheadSize]byte) }}
}

func (r *idleReader) Read(p []byte) (int, error) {
	if r.r < r.w {
		return r.pass(p), nil
	}
	if r.err != nil {
		return 0, r.err
	}
	// Not every ResponseWriter supports deadlines (httptest recorders);
	// then the server's own timeouts apply.
	_ = r.rc.SetReadDeadline(time.Now().Add(r.idle))
	if r.chunks == nil || len(p) >= readAheadSize {
		return r.body.Read(p)
	}
	r.chunk = r.chunks.Get().(*[readAheadSize]byte)
	n, err := r.body.Read(r.chunk[:])
	r.r, r.w, r.err = 0, n, err
	if n == 0 {
		r.release()
		r.err = nil
		return 0, err
	}
	return r.pass(p), nil
}

// pass copies buffered bytes to p and gives the chunk back once drained.
func (r *idleReader) pass(p []byte) int {
	n := copy(p, r.chunk[r.r:r.w])
	r.r += n
	if r.r == r.w {
		r.release()
	}
	return n
}

func (r *idleReader) release() {
	if r.chunk != nil {
		r.chunks.Put(r.chunk)
		r.chunk, r.r, r.w = nil, 0, 0
	}
}

func (r *idleReader) Close() error {
	r.release()
	return r.body.Close()
}
