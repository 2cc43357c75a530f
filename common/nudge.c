/* nudge.c -- "the store changed" datagrams from the CLI to its daemon. */
#include "common/nudge.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int nudge_addr(const char *dir, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof sa->sun_path, "%s/run/nudge.sock", dir);
    if (n < 0 || (size_t)n >= sizeof sa->sun_path)
        return err_set(LD_EINVAL, "%s/run/nudge.sock: path too long for a Unix socket "
                       "(keep the data directory path under 90 bytes)", dir);
    return 0;
}

int nudge_send(const char *dir)
{
    struct sockaddr_un sa;
    if (nudge_addr(dir, &sa))
        return 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    /* ECONNREFUSED/ENOENT (no daemon) and EAGAIN (it has nudges queued
     * already) all mean there is nothing more to do. */
    (void)sendto(fd, "", 0, 0, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    return 0;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    nudge_t *n = h->data;
    (void)events;
    char b[16];
    /* Drain everything: many nudges in one turn are one change to act on. */
    while (recv(n->fd, b, sizeof b, 0) >= 0)
        ;
    if (status == 0 && n->cb)
        n->cb(n);
}

int nudge_init(uv_loop_t *loop, nudge_t *n, const char *dir)
{
    struct sockaddr_un sa;
    int rc = nudge_addr(dir, &sa);
    if (rc)
        return rc;
    char run[4096];
    snprintf(run, sizeof run, "%s/run", dir);
    if (mkdir(run, 0700) && errno != EEXIST)
        return err_set(err_from_errno(errno), "%s: %s", run, strerror(errno));
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0)
        return err_set(err_from_errno(errno), "nudge socket: %s", strerror(errno));
    /* A socket file left by a daemon that was killed is stale: replace it.
     * Two daemons on one directory are prevented by the caller's lock. */
    unlink(sa.sun_path);
    if (bind(n->fd, (struct sockaddr *)&sa, sizeof sa)) {
        rc = err_set(err_from_errno(errno), "%s: %s", sa.sun_path, strerror(errno));
        close(n->fd);
        return rc;
    }
    snprintf(n->path, sizeof n->path, "%s", sa.sun_path);
    rc = uv_poll_init(loop, &n->poll, n->fd);
    if (rc) {
        close(n->fd);
        unlink(n->path);
        return err_set(rc, "nudge poll: %s", uv_strerror(rc));
    }
    n->poll.data = n;
    return 0;
}

int nudge_start(nudge_t *n, nudge_cb cb)
{
    n->cb = cb;
    return uv_poll_start(&n->poll, UV_READABLE, on_readable);
}

void nudge_close(nudge_t *n, uv_close_cb close_cb)
{
    uv_poll_stop(&n->poll);
    unlink(n->path);
    close(n->fd);
    uv_close((uv_handle_t *)&n->poll, close_cb);
}
