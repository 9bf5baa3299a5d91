/* SPDX-License-Identifier: MIT */
/* harness.c - placeholder; replaced by the integration test harness. */
int larder_harness_placeholder(void);
int larder_harness_placeholder(void) { return 0; }
