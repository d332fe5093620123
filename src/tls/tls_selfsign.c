/*
 * The self-signed default certificate: generated on first start when no
 * certificate and key exist, so that the built-in defaults can offer
 * STARTTLS at once. Clients that verify certificates will not trust it;
 * docs/tls-and-auth.md explains how to install a real one.
 *
 * Owns: nothing beyond the duration of a call.
 * Process: the parent, before fork (writes files as the starting user).
 */
#include "tls/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TLS_CN_MAX 64		/* ub-common-name, RFC 5280 */
#define TLS_SERIAL_BYTES 16

/* mkdir -p for the directory part of path; new directories get 0700. */
static int
tls_mkdirs(const char *path, char *why, size_t whysz)
{
	char dir[PATH_MAX], *p;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		goto fail;
	if ((p = strrchr(dir, '/')) == NULL)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (dir[0] != '\0' && mkdir(dir, 0700) == -1 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	(void)snprintf(why, whysz, "tls: cannot create directory for %s: %s",
	    path, strerror(errno));
	return -1;
}

/* fsync of the directory holding path, so that a rename is durable. */
static int
tls_sync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, rc;

	(void)snprintf(dir, sizeof(dir), "%s", path);
	if ((fd = open(dirname(dir), O_RDONLY | O_DIRECTORY)) == -1)
		return -1;
	rc = fsync(fd);
	(void)close(fd);
	return rc;
}

/*
 * Writes a PEM object to path atomically with the given mode: the key when
 * pkey is set, else the certificate.
 */
static int
tls_write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *x,
    char *why, size_t whysz)
{
	char tmp[PATH_MAX];
	FILE *fp = NULL;
	int fd = -1, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd == -1 || fchmod(fd, mode) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL)
		goto fail;
	fd = -1;
	ok = pkey != NULL ? PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0,
	    NULL, NULL) : PEM_write_X509(fp, x);
	if (!ok) {
		errno = EIO;
		goto fail;
	}
	if (fflush(fp) == EOF || fsync(fileno(fp)) == -1)
		goto fail;
	ok = fclose(fp);
	fp = NULL;
	if (ok == EOF || rename(tmp, path) == -1 || tls_sync_dir(path) == -1)
		goto fail;
	return 0;
fail:
	(void)snprintf(why, whysz, "tls: cannot write %s: %s", path,
	    strerror(errno));
	if (fp != NULL)
		(void)fclose(fp);
	if (fd != -1)
		(void)close(fd);
	(void)unlink(tmp);
	return -1;
}

/* subjectAltName: one dNSName (or iPAddress for an address literal). */
static int
tls_add_san(X509 *x, const char *hostname)
{
	unsigned char ip[16];
	GENERAL_NAMES *names = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_STRING *s = NULL;
	int type = GEN_DNS, iplen = 0, rc = -1;

	if (inet_pton(AF_INET, hostname, ip) == 1)
		iplen = 4;
	else if (inet_pton(AF_INET6, hostname, ip) == 1)
		iplen = 16;
	if (iplen > 0) {
		type = GEN_IPADD;
		s = ASN1_OCTET_STRING_new();
	} else
		s = ASN1_IA5STRING_new();
	if (s == NULL || (gn = GENERAL_NAME_new()) == NULL ||
	    (names = GENERAL_NAMES_new()) == NULL)
		goto fail;
	if (iplen > 0 ? !ASN1_OCTET_STRING_set(s, ip, iplen) :
	    !ASN1_STRING_set(s, hostname, (int)strlen(hostname)))
		goto fail;
	GENERAL_NAME_set0_value(gn, type, s);
	s = NULL;
	if (!sk_GENERAL_NAME_push(names, gn))
		goto fail;
	gn = NULL;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, 0) == 1)
		rc = 0;
fail:
	ASN1_STRING_free(s);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return rc;
}

/* The constant extensions of a server leaf certificate. */
static int
tls_add_exts(X509 *x)
{
	static const struct {
		int		 nid;
		const char	*value;
	} exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, "serverAuth" },
		{ NID_subject_key_identifier, "hash" },
	};
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	size_t i;

	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid,
		    exts[i].value);
		if (ext == NULL)
			return -1;
		if (!X509_add_ext(x, ext, -1)) {
			X509_EXTENSION_free(ext);
			return -1;
		}
		X509_EXTENSION_free(ext);
	}
	return 0;
}

/* Random positive serial number, RFC 5280 §4.1.2.2. */
static int
tls_set_serial(X509 *x)
{
	unsigned char raw[TLS_SERIAL_BYTES];
	BIGNUM *bn;
	int rc = -1;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	raw[0] &= 0x7f;
	raw[0] |= 0x01;		/* never zero, never negative */
	if ((bn = BN_bin2bn(raw, sizeof(raw), NULL)) == NULL)
		return -1;
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		rc = 0;
	BN_free(bn);
	return rc;
}

/* Subject and issuer: CN=hostname (or a fixed name if it is too long). */
static int
tls_set_names(X509 *x, const char *hostname)
{
	X509_NAME *name = X509_get_subject_name(x);
	const char *cn = hostname;

	if (strlen(cn) == 0 || strlen(cn) > TLS_CN_MAX)
		cn = "Postern self-signed";
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0))
		return -1;
	return X509_set_issuer_name(x, name) == 1 ? 0 : -1;
}

/* Builds and signs the certificate for pkey. */
static X509 *
tls_make_cert(EVP_PKEY *pkey, const char *hostname)
{
	X509 *x;

	if ((x = X509_new()) == NULL)
		return NULL;
	if (!X509_set_version(x, X509_VERSION_3) || tls_set_serial(x) == -1)
		goto fail;
	if (X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLS_SELFSIGNED_DAYS, 0,
	    NULL) == NULL)
		goto fail;
	if (!X509_set_pubkey(x, pkey) || tls_set_names(x, hostname) == -1)
		goto fail;
	if (tls_add_san(x, hostname) == -1 || tls_add_exts(x) == -1)
		goto fail;
	if (X509_sign(x, pkey, EVP_sha256()) == 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

int
tls_selfsigned_create(const char *hostname, const char *cert_path,
    const char *key_path, char *why, size_t whysz)
{
	char reason[TLS_REASON_MAX];
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	int rc = -1;

	if (hostname == NULL)
		hostname = "localhost";
	ERR_clear_error();
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (x = tls_make_cert(pkey, hostname)) == NULL) {
		(void)snprintf(why, whysz, "tls: cannot generate a self-signed "
		    "certificate: %s", tls_error_reason(reason,
		    sizeof(reason)));
		goto fail;
	}
	if (tls_mkdirs(key_path, why, whysz) == -1 ||
	    tls_mkdirs(cert_path, why, whysz) == -1)
		goto fail;
	if (tls_write_pem(key_path, 0600, pkey, NULL, why, whysz) == -1)
		goto fail;
	if (tls_write_pem(cert_path, 0644, NULL, x, why, whysz) == -1) {
		(void)unlink(key_path);	/* never leave a key without its cert */
		goto fail;
	}
	rc = 0;
fail:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}
