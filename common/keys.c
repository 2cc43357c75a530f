/*
 * keys.c -- CurveZMQ key pair files; see keys.h.
 */
#include "common/keys.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static const char z85_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ".-:+=^!/*?&<>()[]{}@%$#";

/* Every character is in the alphabet and every 5-character group encodes a
 * value that fits 32 bits (85^5 > 2^32, so some strings are not Z85). */
static bool z85_valid(const char *s, size_t len)
{
    if (len % 5 != 0)
        return false;
    for (size_t i = 0; i < len; i += 5) {
        uint64_t v = 0;
        for (size_t j = i; j < i + 5; j++) {
            const char *p = s[j] ? strchr(z85_alphabet, s[j]) : NULL;
            if (!p)
                return false;
            v = v * 85 + (uint64_t)(p - z85_alphabet);
        }
        if (v > UINT32_MAX)
            return false;
    }
    return true;
}

bool keys_valid_public(const char *z85)
{
    return z85 && strnlen(z85, KEYS_Z85_LEN + 1) == KEYS_Z85_LEN
        && z85_valid(z85, KEYS_Z85_LEN);
}

void keys_wipe(keys_t *k)
{
    sodium_memzero(k, sizeof *k);
}

static int key_path(char *path, size_t size, const char *dir, const char *name)
{
    int n = snprintf(path, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return err_set(LD_EINVAL, "%s/%s: path too long", dir, name);
    return 0;
}

static int errno_fail(const char *path)
{
    int e = errno;
    return err_set(-e, "%s: %s", path, strerror(e));
}

/* Writes "Z85\n" to a new file created with `mode` (never an existing one)
 * and syncs it. On failure the file is removed. */
static int write_new(const char *path, const char *z85, mode_t mode)
{
    char line[KEYS_Z85_LEN + 1];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return err_set(LD_EEXIST, "%s already exists", path);
        return errno_fail(path);
    }
    memcpy(line, z85, KEYS_Z85_LEN);
    line[KEYS_Z85_LEN] = '\n';
    size_t off = 0;
    int rc = 0;
    while (off < sizeof line && rc == 0) {
        ssize_t n = write(fd, line + off, sizeof line - off);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EINTR)
            rc = errno_fail(path);
    }
    sodium_memzero(line, sizeof line);
    if (rc == 0 && fsync(fd) != 0)
        rc = errno_fail(path);
    if (close(fd) != 0 && rc == 0)
        rc = errno_fail(path);
    if (rc != 0)
        unlink(path);
    return rc;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno_fail(dir);
    int rc = fsync(fd) == 0 ? 0 : errno_fail(dir);
    close(fd);
    return rc;
}

int keys_generate(const char *dir)
{
    char key_file[PATH_MAX], pub_file[PATH_MAX];
    keys_t k;
    int rc;

    if ((rc = key_path(key_file, sizeof key_file, dir, KEYS_SECRET_FILE)) != 0
        || (rc = key_path(pub_file, sizeof pub_file, dir, KEYS_PUBLIC_FILE)) != 0)
        return rc;
    if (zmq_curve_keypair(k.public, k.secret) != 0)
        return err_set(-zmq_errno(), "cannot make a CURVE key pair: %s",
                       zmq_strerror(zmq_errno()));
    rc = write_new(key_file, k.secret, 0600);
    if (rc == 0) {
        rc = write_new(pub_file, k.public, 0644);
        if (rc != 0)
            unlink(key_file);   /* we made it a moment ago */
    }
    keys_wipe(&k);
    if (rc == 0 && (rc = sync_dir(dir)) != 0) {
        unlink(pub_file);
        unlink(key_file);
    }
    return rc;
}

/* Reads one key file into out (41 bytes). A secret key file must not be
 * accessible by group or others. */
static int read_key(const char *path, char *out, bool secret)
{
    char buf[KEYS_Z85_LEN + 8];
    size_t len = 0;
    struct stat st;
    int rc = 0;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno_fail(path);
    if (fstat(fd, &st) != 0)
        rc = errno_fail(path);
    else if (!S_ISREG(st.st_mode))
        rc = err_set(LD_ECONFIG, "%s is not a regular file", path);
    else if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)))
        rc = err_set(LD_EDENIED,
                     "%s is accessible by group or others (mode %04o); "
                     "run: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
    while (rc == 0 && len < sizeof buf) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n == 0)
            break;
        if (n > 0)
            len += (size_t)n;
        else if (errno != EINTR)
            rc = errno_fail(path);
    }
    close(fd);
    if (rc == 0) {
        if (len > 0 && buf[len - 1] == '\n')
            len--;
        if (len > 0 && buf[len - 1] == '\r')
            len--;
        if (len != KEYS_Z85_LEN || !z85_valid(buf, len))
            rc = err_set(LD_ECONFIG, "%s: not a %d-character Z85 key",
                         path, KEYS_Z85_LEN);
        else {
            memcpy(out, buf, KEYS_Z85_LEN);
            out[KEYS_Z85_LEN] = '\0';
        }
    }
    sodium_memzero(buf, sizeof buf);
    return rc;
}

int keys_load(const char *dir, keys_t *out)
{
    char key_file[PATH_MAX], pub_file[PATH_MAX];
    char derived[KEYS_Z85_LEN + 1];
    int rc;

    keys_wipe(out);
    if ((rc = key_path(key_file, sizeof key_file, dir, KEYS_SECRET_FILE)) != 0
        || (rc = key_path(pub_file, sizeof pub_file, dir, KEYS_PUBLIC_FILE)) != 0
        || (rc = read_key(key_file, out->secret, true)) != 0
        || (rc = read_key(pub_file, out->public, false)) != 0)
        goto fail;
    if (zmq_curve_public(derived, out->secret) != 0) {
        rc = err_set(-zmq_errno(), "cannot derive the public key: %s",
                     zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (strcmp(derived, out->public) != 0) {
        rc = err_set(LD_ECONFIG, "%s is not the public key of %s",
                     pub_file, key_file);
        goto fail;
    }
    return 0;
fail:
    keys_wipe(out);
    return rc;
}

static int set_opt(void *sock, int opt, const void *val, size_t len, const char *name)
{
    if (zmq_setsockopt(sock, opt, val, len) == 0)
        return 0;
    int e = zmq_errno();
    return err_set(-e, "%s: %s", name, zmq_strerror(e));
}

int keys_curve_server(void *sock, const keys_t *k)
{
    int one = 1, rc;
    if ((rc = set_opt(sock, ZMQ_CURVE_SERVER, &one, sizeof one, "ZMQ_CURVE_SERVER")) != 0)
        return rc;
    /* A 40-byte value is read as Z85 by libzmq. */
    return set_opt(sock, ZMQ_CURVE_SECRETKEY, k->secret, KEYS_Z85_LEN,
                   "ZMQ_CURVE_SECRETKEY");
}

int keys_curve_client(void *sock, const keys_t *k, const char *server_public)
{
    int rc;
    if (!keys_valid_public(server_public))
        return err_set(LD_EINVAL, "the server's public key is not a %d-character Z85 key",
                       KEYS_Z85_LEN);
    if ((rc = set_opt(sock, ZMQ_CURVE_SERVERKEY, server_public, KEYS_Z85_LEN,
                      "ZMQ_CURVE_SERVERKEY")) != 0
        || (rc = set_opt(sock, ZMQ_CURVE_PUBLICKEY, k->public, KEYS_Z85_LEN,
                         "ZMQ_CURVE_PUBLICKEY")) != 0)
        return rc;
    return set_opt(sock, ZMQ_CURVE_SECRETKEY, k->secret, KEYS_Z85_LEN,
                   "ZMQ_CURVE_SECRETKEY");
}
