// SPDX-License-Identifier: GPL-2.0-only
/*
 * acrypto_broken.ko: a deliberately broken test module, never installed.
 *
 * tests/vm/run.sh loads it at the end of the VM run to prove that the guest
 * kernel (booted with slub_debug=FZPU page_poison=1) reports the memory bugs
 * a defect in acrypto.ko would make, and that the run's log check catches
 * those reports: the part of the log where it ran must fail the verdict.
 *
 *   bug=oob   writes one byte past a 40-byte object, then frees it (SLUB's
 *             red zone check on free: "Redzone overwritten")
 *   bug=uaf   writes into an object after freeing it, then allocates again
 *             (SLUB's poison check on allocation: "Poison overwritten")
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *bug = "oob";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "oob or uaf");

static struct kmem_cache *cache;

/* Hides the object from the compiler so that it cannot see the bug. */
static noinline void scribble(char *p, size_t off)
{
	OPTIMIZER_HIDE_VAR(p);
	p[off] = 0x5a;
}

static int __init acrypto_broken_init(void)
{
	const size_t size = 40;
	char *p, *q;

	if (strcmp(bug, "oob") && strcmp(bug, "uaf"))
		return -EINVAL;
	/*
	 * A cache of its own: objects of exactly 40 bytes (a kmalloc object
	 * would sit in kmalloc-64, where byte 40 is not yet a red zone), and
	 * the next allocation gets the object just freed.
	 */
	cache = kmem_cache_create(!strcmp(bug, "oob") ? "acrypto_broken_oob" : "acrypto_broken_uaf",
				  size, 0, 0, NULL);
	if (!cache)
		return -ENOMEM;
	p = kmem_cache_alloc(cache, GFP_KERNEL);
	if (!p) {
		kmem_cache_destroy(cache);
		return -ENOMEM;
	}
	if (!strcmp(bug, "oob")) {
		scribble(p, size);
		kmem_cache_free(cache, p);
		pr_info("acrypto_broken: wrote one byte past a %zu-byte object\n", size);
		return 0;
	}
	kmem_cache_free(cache, p);
	scribble(p, 8);
	q = kmem_cache_alloc(cache, GFP_KERNEL);
	if (q)
		kmem_cache_free(cache, q);
	pr_info("acrypto_broken: wrote into a freed object (%s)\n",
		q == p ? "allocated again" : "not allocated again");
	return 0;
}

static void __exit acrypto_broken_exit(void)
{
	kmem_cache_destroy(cache);
}

module_init(acrypto_broken_init);
module_exit(acrypto_broken_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("acrypto test build: deliberate memory bugs for the VM harness");
