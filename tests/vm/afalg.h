/* SPDX-License-Identifier: MIT */
/* Minimal AF_ALG skcipher client, for cross-checks and the benchmark. */
#ifndef ACRYPTO_VM_AFALG_H
#define ACRYPTO_VM_AFALG_H

#include <linux/if_alg.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef SOL_ALG
#define SOL_ALG 279
#endif

/* Returns an operation socket bound to NAME (cra_name or driver) with KEY, or -errno. */
static inline int afalg_open(const char *name, const void *key, int klen)
{
	struct sockaddr_alg sa;
	int tfm, op;

	memset(&sa, 0, sizeof(sa));
	sa.salg_family = AF_ALG;
	strcpy((char *)sa.salg_type, "skcipher");
	snprintf((char *)sa.salg_name, sizeof(sa.salg_name), "%s", name);
	tfm = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (tfm < 0)
		return -errno;
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, (socklen_t)klen)) {
		int e = -errno;

		close(tfm);
		return e;
	}
	op = accept(tfm, NULL, 0);
	if (op < 0) {
		int e = -errno;

		close(tfm);
		return e;
	}
	close(tfm);	/* the operation socket keeps the transform */
	return op;
}

/* One encrypt/decrypt through an operation socket; returns 0 or -errno. */
static inline int afalg_crypt(int op, int encrypt, const unsigned char *iv, int ivlen,
			      const void *in, size_t len, void *out)
{
	char cbuf[CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(struct af_alg_iv) + 16)];
	struct msghdr msg;
	struct cmsghdr *c;
	struct iovec iov;
	ssize_t n;

	memset(cbuf, 0, sizeof(cbuf));
	memset(&msg, 0, sizeof(msg));
	msg.msg_control = cbuf;
	msg.msg_controllen = CMSG_SPACE(sizeof(uint32_t)) +
			     (ivlen ? CMSG_SPACE(sizeof(struct af_alg_iv) + (size_t)ivlen) : 0);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_OP;
	c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
	*(uint32_t *)CMSG_DATA(c) = encrypt ? ALG_OP_ENCRYPT : ALG_OP_DECRYPT;
	if (ivlen) {
		struct af_alg_iv *aiv;

		c = CMSG_NXTHDR(&msg, c);
		c->cmsg_level = SOL_ALG;
		c->cmsg_type = ALG_SET_IV;
		c->cmsg_len = CMSG_LEN(sizeof(*aiv) + (size_t)ivlen);
		aiv = (struct af_alg_iv *)CMSG_DATA(c);
		aiv->ivlen = (uint32_t)ivlen;
		memcpy(aiv->iv, iv, (size_t)ivlen);
	}
	iov.iov_base = (void *)in;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (sendmsg(op, &msg, 0) != (ssize_t)len)
		return -errno;
	n = read(op, out, len);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

#endif
