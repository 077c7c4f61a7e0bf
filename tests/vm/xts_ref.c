/* SPDX-License-Identifier: MIT */
/*
 * Host-side reference for AES-XTS (openssl enc has no XTS): encrypts a file
 * with libcrypto's EVP_aes_{128,256}_xts and prints the result in hex.
 * Usage: xts_ref BITS KEYHEX IVHEX FILE
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unhex(const char *h, unsigned char *o, int max)
{
	int n = 0;
	unsigned int v;

	while (h[0] && h[1] && n < max && sscanf(h, "%2x", &v) == 1) {
		o[n++] = (unsigned char)v;
		h += 2;
	}
	return n;
}

int main(int argc, char **argv)
{
	static unsigned char in[1 << 16], out[(1 << 16) + 32];
	unsigned char key[64], iv[16];
	int bits, klen, ilen, n, outl = 0, fin = 0, i;
	EVP_CIPHER_CTX *c;
	FILE *f;

	if (argc != 5)
		return 2;
	bits = atoi(argv[1]);
	klen = unhex(argv[2], key, sizeof(key));
	ilen = unhex(argv[3], iv, sizeof(iv));
	f = fopen(argv[4], "rb");
	if (!f || klen != bits / 4 || ilen != 16)
		return 2;
	n = (int)fread(in, 1, sizeof(in), f);
	fclose(f);
	c = EVP_CIPHER_CTX_new();
	if (!c || !EVP_EncryptInit_ex(c, bits == 128 ? EVP_aes_128_xts() : EVP_aes_256_xts(),
				      NULL, key, iv) ||
	    !EVP_EncryptUpdate(c, out, &outl, in, n) ||
	    !EVP_EncryptFinal_ex(c, out + outl, &fin))
		return 1;
	for (i = 0; i < outl + fin; i++)
		printf("%02x", out[i]);
	printf("\n");
	EVP_CIPHER_CTX_free(c);
	return 0;
}
