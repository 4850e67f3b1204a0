/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * clients-signers NODE N K: N tpm2-tss clients at once on a tpmrm node, as applications use
 * one: each a process of its own with its own ESYS context over the device TCTI
 * (Tss2_TctiLdr_Initialize("device:NODE")).
 *
 * Each client creates three transient objects, an ECC P-256 storage primary of its own and
 * two ECC P-256 signing keys under it (Create + Load), and checks their handles are the
 * first three virtual handles of a private space, and starts an HMAC session salted with
 * the primary, with parameter encryption, as ESYS applications commonly do.  Once every
 * client holds its three objects and its session (48 objects and 16 sessions for 16
 * clients, far more than the TPM has slots for: the resource manager swaps them), all sign
 * at once: K digests each, alternating the two keys, every other signature authorised
 * through the session (the digest goes encrypted), the others by password.  Every signature
 * is verified with OpenSSL against the public part that Create returned for that key.  Once
 * per client a signature must fail to verify against the other key and against another
 * digest, so that the check can fail.
 *
 * Any TSS error (TPM_RC_OBJECT_MEMORY or any other), a handle out of place, a signature that
 * does not verify, or a client that hangs (60 s): a message naming the client, exit status
 * 1.  Otherwise "N clients x K signatures verified".
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#define CLIENT_ALARM_S	 60 /* a hung client dies, and the test fails, before ctest's limit */
#define READY_TIMEOUT_MS 60000
#define MAX_CLIENTS	 64
#define MAX_SIGNATURES	 10000
#define P256_BYTES	 32
#define FIRST_VHANDLE	 0x80ffffffu /* the kernel's: slot i of a space is 0x80ffffff - i */

typedef struct {
	int id;
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR primary;
	ESYS_TR key[2];
	ESYS_TR session;
	EVP_PKEY *pub[2];
} Client;

static void client_fail(const Client *c, const char *what)
{
	fprintf(stderr, "client %d: %s\n", c->id, what);
	exit(1);
}

static void tss_check(const Client *c, TSS2_RC rc, const char *what)
{
	if (rc == TSS2_RC_SUCCESS)
		return;
	fprintf(stderr, "client %d: %s: 0x%x %s\n", c->id, what, (unsigned)rc, Tss2_RC_Decode(rc));
	exit(1);
}

static TPM2B_PUBLIC storage_template(int id)
{
	TPM2B_PUBLIC t = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
					    TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA,
			.parameters.eccDetail = {
				.symmetric = { .algorithm = TPM2_ALG_AES,
					       .keyBits.aes = 128,
					       .mode.aes = TPM2_ALG_CFB },
				.scheme.scheme = TPM2_ALG_NULL,
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
		},
	};
	TPM2B_ECC_PARAMETER *x = &t.publicArea.unique.ecc.x;
	int n;

	/* A primary of its own: the unique field goes into the key's derivation. */
	n = snprintf((char *)x->buffer, sizeof(x->buffer), "tpmrm-cuse client %d", id);
	x->size = (UINT16)n;
	return t;
}

static TPM2B_PUBLIC signing_template(void)
{
	TPM2B_PUBLIC t = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT |
					    TPMA_OBJECT_NODA,
			.parameters.eccDetail = {
				.symmetric.algorithm = TPM2_ALG_NULL,
				.scheme = { .scheme = TPM2_ALG_ECDSA,
					    .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
		},
	};
	return t;
}

/* The OpenSSL public key of an ECC P-256 TPM2B_PUBLIC, or NULL. */
static EVP_PKEY *public_key(const TPM2B_PUBLIC *pub)
{
	const TPMS_ECC_POINT *p = &pub->publicArea.unique.ecc;
	unsigned char point[1 + 2 * P256_BYTES] = { 0x04 };
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (p->x.size > P256_BYTES || p->y.size > P256_BYTES)
		return NULL;
	memcpy(point + 1 + P256_BYTES - p->x.size, p->x.buffer, p->x.size);
	memcpy(point + sizeof(point) - p->y.size, p->y.buffer, p->y.size);
	bld = OSSL_PARAM_BLD_new();
	if (bld &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
		params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* 1: @sig is an ECDSA signature of @digest by @pub; 0: it is not; -1: OpenSSL failed. */
static int verify(EVP_PKEY *pub, const TPM2B_DIGEST *digest, const TPMT_SIGNATURE *sig)
{
	const TPMS_SIGNATURE_ECC *e = &sig->signature.ecdsa;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
	BIGNUM *s = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
	unsigned char *der = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int len, ok = -1;

	if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	len = i2d_ECDSA_SIG(es, &der);
	ctx = EVP_PKEY_CTX_new(pub, NULL);
	if (len > 0 && ctx && EVP_PKEY_verify_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1)
		ok = EVP_PKEY_verify(ctx, der, (size_t)len, digest->buffer, digest->size);
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok < 0 ? -1 : ok;
}

static void client_open(Client *c, const char *conf)
{
	tss_check(c, Tss2_TctiLdr_Initialize(conf, &c->tcti), "Tss2_TctiLdr_Initialize");
	tss_check(c, Esys_Initialize(&c->esys, c->tcti, NULL), "Esys_Initialize");
}

static void check_vhandle(const Client *c, ESYS_TR tr, unsigned slot)
{
	TPM2_HANDLE h = 0;
	char msg[96];

	tss_check(c, Esys_TR_GetTpmHandle(c->esys, tr, &h), "Esys_TR_GetTpmHandle");
	if (h == FIRST_VHANDLE - slot)
		return;
	snprintf(msg, sizeof(msg), "object %u has handle 0x%08x, not 0x%08x: spaces not private",
		 slot, (unsigned)h, FIRST_VHANDLE - slot);
	client_fail(c, msg);
}

static void create_primary(Client *c)
{
	TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	TPM2B_PUBLIC tmpl = storage_template(c->id);
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION pcrs = { 0 };
	TPM2B_PUBLIC *out_public = NULL;
	TPM2B_CREATION_DATA *creation_data = NULL;
	TPM2B_DIGEST *creation_hash = NULL;
	TPMT_TK_CREATION *ticket = NULL;

	tss_check(c,
		  Esys_CreatePrimary(c->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				     ESYS_TR_NONE, &sensitive, &tmpl, &outside, &pcrs, &c->primary,
				     &out_public, &creation_data, &creation_hash, &ticket),
		  "Esys_CreatePrimary");
	Esys_Free(out_public);
	Esys_Free(creation_data);
	Esys_Free(creation_hash);
	Esys_Free(ticket);
	check_vhandle(c, c->primary, 0);
}

/* A signing key under the primary, loaded as key @i; its public key for OpenSSL. */
static void create_key(Client *c, int i)
{
	TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	TPM2B_PUBLIC tmpl = signing_template();
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION pcrs = { 0 };
	TPM2B_PRIVATE *out_private = NULL;
	TPM2B_PUBLIC *out_public = NULL;
	TPM2B_CREATION_DATA *creation_data = NULL;
	TPM2B_DIGEST *creation_hash = NULL;
	TPMT_TK_CREATION *ticket = NULL;

	tss_check(c,
		  Esys_Create(c->esys, c->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			      &sensitive, &tmpl, &outside, &pcrs, &out_private, &out_public,
			      &creation_data, &creation_hash, &ticket),
		  "Esys_Create");
	tss_check(c,
		  Esys_Load(c->esys, c->primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			    out_private, out_public, &c->key[i]),
		  "Esys_Load");
	c->pub[i] = public_key(out_public);
	Esys_Free(out_private);
	Esys_Free(out_public);
	Esys_Free(creation_data);
	Esys_Free(creation_hash);
	Esys_Free(ticket);
	if (!c->pub[i])
		client_fail(c, "OpenSSL cannot make a key of Create's public area");
	check_vhandle(c, c->key[i], (unsigned)i + 1);
}

/* An HMAC session salted with the primary; the first command parameter goes encrypted. */
static void start_session(Client *c)
{
	TPMT_SYM_DEF symmetric = { .algorithm = TPM2_ALG_AES,
				   .keyBits.aes = 128,
				   .mode.aes = TPM2_ALG_CFB };
	TPM2_HANDLE h = 0;

	tss_check(c,
		  Esys_StartAuthSession(c->esys, c->primary, ESYS_TR_NONE, ESYS_TR_NONE,
					ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &symmetric,
					TPM2_ALG_SHA256, &c->session),
		  "Esys_StartAuthSession");
	tss_check(c,
		  Esys_TRSess_SetAttributes(c->esys, c->session,
					    TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT,
					    0xff),
		  "Esys_TRSess_SetAttributes");
	tss_check(c, Esys_TR_GetTpmHandle(c->esys, c->session, &h), "Esys_TR_GetTpmHandle");
	if ((h >> 24) != TPM2_HT_HMAC_SESSION)
		client_fail(c, "the session's handle is not an HMAC session's");
}

static TPM2B_DIGEST message_digest(const Client *c, int n)
{
	TPM2B_DIGEST d = { .size = P256_BYTES };
	char msg[64];
	int len;

	len = snprintf(msg, sizeof(msg), "client %d, signature %d", c->id, n);
	if (EVP_Digest(msg, (size_t)len, d.buffer, NULL, EVP_sha256(), NULL) != 1)
		client_fail(c, "EVP_Digest failed");
	return d;
}

/* Sign @d with key @i, authorised by password or, if @session, through the HMAC session. */
static TPMT_SIGNATURE *sign(const Client *c, int i, const TPM2B_DIGEST *d, bool session)
{
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA,
				   .details.ecdsa.hashAlg = TPM2_ALG_SHA256 };
	TPMT_TK_HASHCHECK validation = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMT_SIGNATURE *sig = NULL;

	tss_check(c,
		  Esys_Sign(c->esys, c->key[i], session ? c->session : ESYS_TR_PASSWORD,
			    ESYS_TR_NONE, ESYS_TR_NONE, d, &scheme, &validation, &sig),
		  "Esys_Sign");
	if (sig->sigAlg != TPM2_ALG_ECDSA || sig->signature.ecdsa.hash != TPM2_ALG_SHA256)
		client_fail(c, "Esys_Sign returned no ECDSA-SHA256 signature");
	return sig;
}

/*
 * Signature @n with key n % 2, through the session when n % 4 >= 2 (so each key is used
 * both ways); the first also must not verify where it should not.
 */
static void sign_and_verify(const Client *c, int n)
{
	TPM2B_DIGEST d = message_digest(c, n);
	TPMT_SIGNATURE *sig = sign(c, n % 2, &d, n % 4 >= 2);
	char msg[80];

	if (verify(c->pub[n % 2], &d, sig) != 1) {
		snprintf(msg, sizeof(msg), "signature %d does not verify with key %d", n, n % 2);
		client_fail(c, msg);
	}
	if (n == 0) {
		if (verify(c->pub[1], &d, sig) != 0)
			client_fail(c, "key 0's signature verifies with key 1 (or OpenSSL failed)");
		d.buffer[0] ^= 1;
		if (verify(c->pub[0], &d, sig) != 0)
			client_fail(c,
				    "a signature verifies for another digest (or OpenSSL failed)");
	}
	Esys_Free(sig);
}

/* The client process: objects, "ready" on @ready_fd, wait for EOF on @go_fd, sign. */
static int client_run(int id, const char *conf, int k, int ready_fd, int go_fd)
{
	Client c = { .id = id };
	char b = 'r';
	int n;

	alarm(CLIENT_ALARM_S);
	client_open(&c, conf);
	create_primary(&c);
	create_key(&c, 0);
	create_key(&c, 1);
	start_session(&c);
	if (write(ready_fd, &b, 1) != 1)
		client_fail(&c, "cannot tell the parent it is ready");
	close(ready_fd);
	if (read(go_fd, &b, 1) != 0)
		client_fail(&c, "no go from the parent");
	for (n = 0; n < k; n++)
		sign_and_verify(&c, n);
	EVP_PKEY_free(c.pub[0]);
	EVP_PKEY_free(c.pub[1]);
	/* The objects stay in the space: the process ends as applications do, and the
	 * resource manager flushes them when the file is released. */
	Esys_Finalize(&c.esys);
	Tss2_TctiLdr_Finalize(&c.tcti);
	return 0;
}

/* Read one byte per ready client until @n came or every client closed its end. */
static int count_ready(int fd, int n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ready = 0;
	char buf[MAX_CLIENTS];
	ssize_t got;

	while (ready < n) {
		if (poll(&p, 1, READY_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "clients-signers: %d of %d clients ready after %d ms\n",
				ready, n, READY_TIMEOUT_MS);
			break;
		}
		got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		ready += (int)got;
	}
	return ready;
}

static bool reap(const pid_t *pids, int n)
{
	bool ok = true;
	int i, status;

	for (i = 0; i < n; i++) {
		if (waitpid(pids[i], &status, 0) < 0) {
			perror("clients-signers: waitpid");
			ok = false;
		} else if (WIFSIGNALED(status)) {
			fprintf(stderr, "client %d: killed by signal %d%s\n", i, WTERMSIG(status),
				WTERMSIG(status) == SIGALRM ? " (hung)" : "");
			ok = false;
		} else if (WEXITSTATUS(status) != 0) {
			ok = false;
		}
	}
	return ok;
}

static int parse_count(const char *s, int max)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max)
		return -1;
	return (int)v;
}

int main(int argc, char **argv)
{
	int ready_pipe[2], go_pipe[2], n, k, i, ready;
	pid_t pids[MAX_CLIENTS];
	char conf[4096];
	bool ok;

	if (argc != 4 || (n = parse_count(argv[2], MAX_CLIENTS)) < 0 ||
	    (k = parse_count(argv[3], MAX_SIGNATURES)) < 0) {
		fprintf(stderr, "usage: clients-signers NODE N(1-%d) K(1-%d)\n", MAX_CLIENTS,
			MAX_SIGNATURES);
		return 2;
	}
	snprintf(conf, sizeof(conf), "device:%s", argv[1]);
	if (pipe(ready_pipe) < 0 || pipe(go_pipe) < 0) {
		perror("clients-signers: pipe");
		return 1;
	}
	fflush(stdout);
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("clients-signers: fork");
			return 1; /* the children started die of their alarm */
		}
		if (pids[i] == 0) {
			close(ready_pipe[0]);
			close(go_pipe[1]);
			exit(client_run(i, conf, k, ready_pipe[1], go_pipe[0]));
		}
	}
	close(ready_pipe[1]);
	close(go_pipe[0]);
	ready = count_ready(ready_pipe[0], n);
	close(go_pipe[1]); /* go, all at once */
	ok = reap(pids, n) && ready == n;
	if (!ok)
		return 1;
	printf("%d clients x %d signatures verified\n", n, k);
	return 0;
}
