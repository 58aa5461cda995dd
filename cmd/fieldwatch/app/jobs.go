package app

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
)

// jobMetrics count the background work this replica did, so that an
// operator (and the replica test) can see that each job ran in one
// replica only.
type jobMetrics struct {
	passes     *prometheus.CounterVec
	thumbnails prometheus.Counter
}

func newJobMetrics(reg prometheus.Registerer) (*jobMetrics, error) {
	m := &jobMetrics{
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldwatch_job_passes_total",
			Help: "Passes of a leased background job (deadlines, reconcile) that this replica ran.",
		}, []string{"job"}),
		thumbnails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldwatch_thumbnail_objects_written_total",
			Help: "Preview images this replica wrote to the photo store.",
		}),
	}
	for _, c := range []prometheus.Collector{m.passes, m.thumbnails} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// minJobLease is the shortest lease on a job: a holder whose database
// answers slowly for a moment (its pool busy with uploads) must not lose
// the job to a replica that asked in that moment.
const minJobLease = 10 * time.Second

// runLeased runs job every interval, in this replica only while it holds
// the job's lease, until ctx ends; then it gives the lease up so that
// another replica takes over at its next tick. The lease lasts three
// intervals, and at least minJobLease: the holder renews it at every pass
// (and while a pass runs), so a late tick or a slow database does not
// lose it, and a replica that dies hands the job on within that time.
func runLeased(ctx context.Context, job *fieldwatch.LeasedJob, interval time.Duration, passes *prometheus.CounterVec, log *slog.Logger) {
	run := job.Run
	job.Run = func(ctx context.Context) error {
		passes.WithLabelValues(job.Name).Inc()
		return run(ctx)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := job.Pass(ctx, max(3*interval, minJobLease)); err != nil && ctx.Err() == nil {
			log.Warn("background job pass incomplete", slog.String("job", job.Name), slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := job.Release(rctx); err != nil {
				log.Warn("releasing a job lease", slog.String("job", job.Name), slog.String("error", err.Error()))
			}
			return
		case <-t.C:
		}
	}
}

// countedThumbnails is the photo store as the thumbnail workers see it,
// counting the previews written.
type countedThumbnails struct {
	fieldwatch.ThumbnailBlobs
	written prometheus.Counter
}

func (c countedThumbnails) Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error) {
	o, err := c.ThumbnailBlobs.Put(ctx, key, r, size, opts)
	if err == nil {
		c.written.Inc()
	}
	return o, err
}
