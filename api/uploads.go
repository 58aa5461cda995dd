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
			req.Body = &idleReader{body: body, rc: rc, idle: s.cfg.UploadIdle}
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

type idleReader struct {
	body interface {
		Read([]byte) (int, error)
		Close() error
	}
	rc   *http.ResponseController
	idle time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	// Not every ResponseWriter supports deadlines (httptest recorders);
	// then the server's own timeouts apply.
	_ = r.rc.SetReadDeadline(time.Now().Add(r.idle))
	return r.body.Read(p)
}

func (r *idleReader) Close() error { return r.body.Close() }
