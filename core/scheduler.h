/* core/scheduler: worker threads for tasks, and periodic timers that run on them.
 *
 * Every timer and task has an owner (a plugin context, or the core) so a
 * plugin that fails or unloads can be cleaned up in one call.  A timer whose
 * previous run has not finished skips the tick rather than piling up. */
#ifndef WGM_CORE_SCHEDULER_H
#define WGM_CORE_SCHEDULER_H

#include <stdint.h>
#include <wgm/host.h>

struct wgm_sched;
/* The same shapes as the SDK's wgm_task_fn / wgm_free_fn, so plugin
 * callbacks are stored as they are. */
typedef wgm_task_fn wgm_sched_fn;
typedef wgm_free_fn wgm_sched_free_fn;

struct wgm_sched *wgm_sched_new(unsigned workers);
/* Stop timers, finish running tasks, free queued ones unrun.  Accepts NULL. */
struct wgm_sched *wgm_sched_free(struct wgm_sched *s);
/* Returns an id > 0 or a negative errno.  @data is owned from success on. */
int64_t wgm_sched_timer_add(struct wgm_sched *s, struct wgm_ctx *owner, unsigned interval_ms, wgm_sched_fn fn,
                            void *data, wgm_sched_free_fn data_free);
/* 0 or -ENOENT (also when @owner does not own @id).  Waits for a running invocation. */
int wgm_sched_timer_del(struct wgm_sched *s, struct wgm_ctx *owner, int64_t id);
int wgm_sched_submit(struct wgm_sched *s, struct wgm_ctx *owner, wgm_sched_fn fn, void *data,
                     wgm_sched_free_fn data_free);
/* Remove @owner's timers and queued tasks and wait for its running ones. */
void wgm_sched_cancel_owner(struct wgm_sched *s, struct wgm_ctx *owner);

#endif
