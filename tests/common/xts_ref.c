/*
 * AES-XTS through OpenSSL's libcrypto, as the independent implementation the
 * cross-check and known-answer tests compare acrypto's XTS with (the openssl
 * command line refuses XTS: "enc: XTS ciphers not supported").
 *
 * Reads one job per line on standard input:
 *     e|d KEYHEX TWEAKHEX DATAHEX
 * KEYHEX is 32 bytes (aes-128-xts) or 64 bytes (aes-256-xts); TWEAKHEX is the
 * 16-byte tweak, passed as the IV exactly as OpenSSL takes it. Writes one line
 * per job: the output in lower-case hex, or "ERR" when OpenSSL refuses it.
 *
 * Built by the tests with: cc -O2 -Wall -Wextra -Werror xts_ref.c -lcrypto
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes a hex token into a new buffer; returns its length or -1. */
static long unhex(const char *s, unsigned char **out)
{
	size_t n = strlen(s);
	unsigned char *b;
	size_t i;

	if (n % 2)
		return -1;
	b = malloc(n / 2 + 1);
	if (!b)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(b);
			return -1;
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	*out = b;
	return (long)(n / 2);
}

static int run(char *line)
{
	char *save = NULL;
	char *dir = strtok_r(line, " \t\r\n", &save);
	char *khex = strtok_r(NULL, " \t\r\n", &save);
	char *ivhex = strtok_r(NULL, " \t\r\n", &save);
	char *dhex = strtok_r(NULL, " \t\r\n", &save);
	unsigned char *key = NULL, *iv = NULL, *data = NULL, *out = NULL;
	long klen, ivlen, dlen;
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx = NULL;
	int outl = 0, finl = 0, ok = 0, i;

	if (!dir || !khex || !ivhex)
		return 0;
	if (!dhex)
		dhex = "";
	klen = unhex(khex, &key);
	ivlen = unhex(ivhex, &iv);
	dlen = unhex(dhex, &data);
	if (klen < 0 || ivlen != 16 || dlen < 0)
		goto done;
	if (klen == 32)
		cipher = EVP_aes_128_xts();
	else if (klen == 64)
		cipher = EVP_aes_256_xts();
	else
		goto done;
	out = malloc((size_t)dlen + 32);
	ctx = EVP_CIPHER_CTX_new();
	if (!out || !ctx)
		goto done;
	if (EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, dir[0] == 'e') != 1)
		goto done;
	/* XTS takes a whole data unit in one update. */
	if (EVP_CipherUpdate(ctx, out, &outl, data, (int)dlen) != 1)
		goto done;
	if (EVP_CipherFinal_ex(ctx, out + outl, &finl) != 1)
		goto done;
	for (i = 0; i < outl + finl; i++)
		printf("%02x", out[i]);
	printf("\n");
	ok = 1;
done:
	if (!ok)
		printf("ERR\n");
	EVP_CIPHER_CTX_free(ctx);
	free(key);
	free(iv);
	free(data);
	free(out);
	return 1;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, stdin) > 0) {
		if (!run(line))
			printf("ERR\n");
		fflush(stdout);
	}
	free(line);
	return 0;
}
