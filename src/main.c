/* SPDX-License-Identifier: MIT */
/* main.c - placeholder until the proxy core lands. */
int main(void) { return 0; }
