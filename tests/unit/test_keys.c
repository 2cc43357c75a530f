/* test_keys.c -- CurveZMQ key pair files: generation, modes, validation. */
#include "common/err.h"
#include "common/keys.h"
#include "testutil.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <zmq.h>

static int setup(void **state)
{
    *state = testutil_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    testutil_rmdir(*state);
    free(*state);
    return 0;
}

static void path_of(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[4096];
    path_of(path, sizeof path, dir, name);
    remove(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static mode_t mode_of(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    path_of(path, sizeof path, dir, name);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_keys_generate_load(void **state)
{
    const char *dir = *state;
    keys_t k;

    assert_int_equal(keys_generate(dir), 0);
    assert_int_equal(keys_load(dir, &k), 0);
    assert_int_equal(strlen(k.public), KEYS_Z85_LEN);
    assert_int_equal(strlen(k.secret), KEYS_Z85_LEN);
    assert_true(keys_valid_public(k.public));

    char derived[KEYS_Z85_LEN + 1];
    assert_int_equal(zmq_curve_public(derived, k.secret), 0);
    assert_string_equal(derived, k.public);

    keys_wipe(&k);
    static const keys_t zero;
    assert_memory_equal(&k, &zero, sizeof k);
}

/* The secret key file is 0600 whatever the umask, the public one 0644. */
static void test_keys_generate_modes(void **state)
{
    const char *dir = *state;
    mode_t old = umask(0);
    int rc = keys_generate(dir);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(mode_of(dir, KEYS_SECRET_FILE), 0600);
    assert_int_equal(mode_of(dir, KEYS_PUBLIC_FILE), 0644);
}

/* Never overwrites: a second generate fails and leaves the pair as it was. */
static void test_keys_generate_exists(void **state)
{
    const char *dir = *state;
    keys_t a, b;
    assert_int_equal(keys_generate(dir), 0);
    assert_int_equal(keys_load(dir, &a), 0);
    assert_int_equal(keys_generate(dir), LD_EEXIST);
    assert_int_equal(keys_load(dir, &b), 0);
    assert_memory_equal(&a, &b, sizeof a);

    /* A stray curve.pub alone also blocks, and no curve.key is left behind. */
    char path[4096];
    path_of(path, sizeof path, dir, KEYS_SECRET_FILE);
    assert_int_equal(remove(path), 0);
    assert_int_equal(keys_generate(dir), LD_EEXIST);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    keys_wipe(&a);
    keys_wipe(&b);
}

static void test_keys_load_missing(void **state)
{
    keys_t k;
    assert_int_equal(keys_load(*state, &k), -ENOENT);
    assert_non_null(strstr(err_msg(), KEYS_SECRET_FILE));
}

static void test_keys_load_group_readable(void **state)
{
    const char *dir = *state;
    char path[4096];
    keys_t k;
    assert_int_equal(keys_generate(dir), 0);
    path_of(path, sizeof path, dir, KEYS_SECRET_FILE);

    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(keys_load(dir, &k), LD_EDENIED);
    assert_non_null(strstr(err_msg(), "chmod 600"));

    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(keys_load(dir, &k), LD_EDENIED);

    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(keys_load(dir, &k), 0);
    keys_wipe(&k);
}

/* One character of curve.pub changed (still valid Z85): the pair no longer
 * matches. */
static void test_keys_load_tampered(void **state)
{
    const char *dir = *state;
    keys_t k;
    assert_int_equal(keys_generate(dir), 0);
    assert_int_equal(keys_load(dir, &k), 0);

    char pub[KEYS_Z85_LEN + 2];
    snprintf(pub, sizeof pub, "%s\n", k.public);
    pub[9] = pub[9] == 'a' ? 'b' : 'a';
    write_file(dir, KEYS_PUBLIC_FILE, pub, 0644);
    /* (Rarely the change makes a group overflow 32 bits, which reads as
     * "not Z85": the same code.) */
    assert_int_equal(keys_load(dir, &k), LD_ECONFIG);
    keys_wipe(&k);
}

/* Two valid pairs, halves swapped. */
static void test_keys_load_wrong_pair(void **state)
{
    const char *dir = *state;
    char pub1[41], sec1[41], pub2[41], sec2[41], line[64];
    keys_t k;
    assert_int_equal(zmq_curve_keypair(pub1, sec1), 0);
    assert_int_equal(zmq_curve_keypair(pub2, sec2), 0);
    snprintf(line, sizeof line, "%s\n", sec1);
    write_file(dir, KEYS_SECRET_FILE, line, 0600);
    snprintf(line, sizeof line, "%s\n", pub2);
    write_file(dir, KEYS_PUBLIC_FILE, line, 0644);
    assert_int_equal(keys_load(dir, &k), LD_ECONFIG);

    /* The right pair, written by hand without a newline, loads. */
    write_file(dir, KEYS_PUBLIC_FILE, pub1, 0644);
    assert_int_equal(keys_load(dir, &k), 0);
    assert_string_equal(k.public, pub1);
    keys_wipe(&k);
}

static void test_keys_load_bad_z85(void **state)
{
    const char *dir = *state;
    char pub[41], sec[41], line[64];
    keys_t k;
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    snprintf(line, sizeof line, "%s\n", pub);
    write_file(dir, KEYS_PUBLIC_FILE, line, 0644);

    const char *bad[] = {
        "",                                             /* empty */
        "short\n",                                      /* too short */
        "0123456789012345678901234567890123456789X\n",  /* too long */
        "01234567890123456789012345678901234567~9\n",   /* not Z85 */
        "0123456789 123456789012345678901234567899\n",  /* space */
        "#####01234567890123456789012345678901234\n",   /* group > 2^32 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(dir, KEYS_SECRET_FILE, bad[i], 0600);
        assert_int_equal(keys_load(dir, &k), LD_ECONFIG);
        assert_non_null(strstr(err_msg(), "Z85"));
        assert_int_equal(k.secret[0], '\0');    /* zeroed on failure */
    }
}

static void test_keys_valid_public(void **state)
{
    (void)state;
    char pub[41], sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_true(keys_valid_public(pub));
    assert_false(keys_valid_public(NULL));
    assert_false(keys_valid_public(""));
    assert_false(keys_valid_public("abc"));
    char longer[42];
    snprintf(longer, sizeof longer, "%s0", pub);
    assert_false(keys_valid_public(longer));
    pub[3] = '"';
    assert_false(keys_valid_public(pub));
    /* 85^5 - 1 > 2^32 - 1: "#####" is not a 4-byte group. */
    assert_false(keys_valid_public("#####abcdeabcdeabcdeabcdeabcdeabcdeabcde"));
    /* The client public key from libzmq's zmq_curve(7) example. */
    assert_true(keys_valid_public("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"));
}

static void test_keys_curve_client_rejects_bad_server_key(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    keys_t k;
    assert_int_equal(zmq_curve_keypair(k.public, k.secret), 0);
    assert_int_equal(keys_curve_client(s, &k, "not a key"), LD_EINVAL);
    assert_int_equal(keys_curve_client(s, &k, k.public), 0);
    assert_int_equal(keys_curve_server(s, &k), 0);
    keys_wipe(&k);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keys_generate_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_generate_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_generate_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_load_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_load_group_readable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_load_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_load_wrong_pair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_load_bad_z85, setup, teardown),
        cmocka_unit_test(test_keys_valid_public),
        cmocka_unit_test(test_keys_curve_client_rejects_bad_server_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
