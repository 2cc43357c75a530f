/* ctl.c -- JSON requests from the CLI to its running daemon; see ctl.h. */
#include "common/ctl.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

static void ctl_endpoint(const char *dir, char *out, size_t n)
{
    snprintf(out, n, "ipc://%s/run/ctl.sock", dir);
}

static void on_request(zloop_t *w, zloop_msg_t *m)
{
    ctl_t *c = w->data;
    json_error_t jerr;
    zmq_msg_t *f = &m->frame[m->count - 1];
    json_t *req = json_loadb(zmq_msg_data(f), zmq_msg_size(f), 0, &jerr);
    json_t *rep = NULL;
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    if (cmd)
        rep = c->handler(c, cmd, req);
    if (!rep)
        rep = json_pack("{s:s}", "error", cmd ? "unknown command" : "bad request");
    char *text = json_dumps(rep, JSON_COMPACT);
    /* A REP socket must answer every request, or it stops receiving. */
    zloop_send(w, text ? text : "{}", text ? strlen(text) : 2, 0);
    free(text);
    json_decref(rep);
    json_decref(req);
}

int ctl_init(uv_loop_t *loop, ctl_t *c, void *zctx, const char *dir)
{
    char run[4096];
    snprintf(run, sizeof run, "%s/run", dir);
    if (mkdir(run, 0700) && errno != EEXIST)
        return err_set(err_from_errno(errno), "%s: %s", run, strerror(errno));
    ctl_endpoint(dir, c->endpoint, sizeof c->endpoint);
    if (strlen(c->endpoint) > 100)
        return err_set(LD_EINVAL, "%s: path too long for an ipc socket", c->endpoint);
    c->sock = zmq_socket(zctx, ZMQ_REP);
    if (!c->sock)
        return err_set(-zmq_errno(), "ctl socket: %s", zmq_strerror(zmq_errno()));
    int zero = 0, rc;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(c->sock, c->endpoint)) {
        rc = err_set(-zmq_errno(), "%s: %s", c->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(c->sock);
        return rc;
    }
    if ((rc = zloop_init(loop, &c->w, c->sock))) {
        zmq_close(c->sock);
        return err_set(rc, "ctl: %s", err_str(rc));
    }
    c->w.data = c;
    return 0;
}

int ctl_start(ctl_t *c, ctl_handler_fn handler)
{
    c->handler = handler;
    return zloop_start(&c->w, on_request);
}

static void on_closed(zloop_t *w)
{
    ctl_t *c = w->data;
    if (c->close_cb)
        c->close_cb(c);
}

void ctl_close(ctl_t *c, void (*cb)(ctl_t *c))
{
    c->close_cb = cb;
    zloop_close(&c->w, on_closed);
    zmq_close(c->sock);
    c->sock = NULL;
}

bool ctl_daemon_running(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/run/daemon.lock", dir);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    /* The daemon holds an exclusive flock for its whole life; the kernel
     * drops it when the process dies, even by kill -9. */
    bool running = flock(fd, LOCK_EX | LOCK_NB) != 0;
    close(fd);
    return running;
}

int ctl_call(const char *dir, json_t *req, int timeout_ms, json_t **reply)
{
    char ep[4200];
    if (!ctl_daemon_running(dir))
        return err_set(LD_EUNREACH, "the daemon is not running");
    ctl_endpoint(dir, ep, sizeof ep);
    void *ctx = zmq_ctx_new();
    void *s = ctx ? zmq_socket(ctx, ZMQ_REQ) : NULL;
    int rc = 0, zero = 0;
    if (!s) {
        rc = err_set(LD_ENOMEM, "cannot create a ZeroMQ socket");
        goto out;
    }
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    char *text = json_dumps(req, JSON_COMPACT);
    if (zmq_connect(s, ep) || zmq_send(s, text, strlen(text), 0) < 0) {
        free(text);
        rc = err_set(LD_EUNREACH, "the daemon is not running (%s)", ep);
        goto out;
    }
    free(text);
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) < 0) {
        zmq_msg_close(&m);
        rc = err_set(LD_EUNREACH, "the daemon is not running (no answer on %s)", ep);
        goto out;
    }
    json_error_t jerr;
    *reply = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, &jerr);
    zmq_msg_close(&m);
    if (!*reply)
        rc = err_set(LD_EPROTO, "bad answer from the daemon: %s", jerr.text);
out:
    if (s)
        zmq_close(s);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}
