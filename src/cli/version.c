/*
 * `postern version`: the program's version and the versions of the
 * libraries it is linked with at run time, one per line. Owns nothing.
 * Runs in the CLI process.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <event2/event.h>
#include <gsasl.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <sqlite3.h>
#include <unbound.h>

#include "cli/cli.h"

#define POSTERN_VERSION "0.1.0"

int
cli_version(int argc, char **argv)
{
	const char *sasl;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: postern version\n\nprints the version of "
		    "postern and of the libraries it runs with\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: postern version\n");
		return EX_USAGE;
	}
	sasl = gsasl_check_version(NULL);
	printf("postern " POSTERN_VERSION "\n");
	printf("libevent %s\n", event_get_version());
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("GNU SASL %s\n", sasl != NULL ? sasl : "unknown");
	printf("libunbound %s\n", ub_version());
	printf("SQLite %s\n", sqlite3_libversion());
	printf("libsodium %s\n", sodium_version_string());
	return fflush(stdout) == EOF ? EX_IOERR : 0;
}
