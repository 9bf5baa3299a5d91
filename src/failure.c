/* SPDX-License-Identifier: MIT */
/* failure.c - the descriptors of every way reaching an origin can fail. */
#include "larder/failure.h"

const struct larder_failure larder_fail_dns = {
    502, LARDER_ERR_DNS, "cannot resolve the origin's host name" };
const struct larder_failure larder_fail_dns_timeout = {
    504, LARDER_ERR_DNS, "DNS lookup for the origin timed out" };
const struct larder_failure larder_fail_refused = {
    502, LARDER_ERR_CONNECT, "connection refused by the origin" };
const struct larder_failure larder_fail_connect = {
    502, LARDER_ERR_CONNECT, "cannot connect to the origin" };
const struct larder_failure larder_fail_connect_timeout = {
    504, LARDER_ERR_UPSTREAM_TIMEOUT, "connection to the origin timed out" };
const struct larder_failure larder_fail_loop = {
    403, LARDER_ERR_DENIED, "forwarding loop: the target is this proxy" };
const struct larder_failure larder_fail_head_too_large = {
    502, LARDER_ERR_BAD_RESPONSE, "the origin's response head is too large" };
const struct larder_failure larder_fail_bad_response = {
    502, LARDER_ERR_BAD_RESPONSE, "malformed response from the origin" };
const struct larder_failure larder_fail_unexpected_101 = {
    502, LARDER_ERR_BAD_RESPONSE, "unexpected 101 from the origin" };
const struct larder_failure larder_fail_bad_body = {
    502, LARDER_ERR_BAD_RESPONSE, "malformed response body from the origin" };
const struct larder_failure larder_fail_no_answer = {
    502, LARDER_ERR_BAD_RESPONSE, "the origin closed the connection without answering" };
const struct larder_failure larder_fail_closed_in_head = {
    502, LARDER_ERR_BAD_RESPONSE, "the origin closed the connection in the response head" };
const struct larder_failure larder_fail_truncated = {
    502, LARDER_ERR_TRUNCATED, "the origin closed the connection before the end of the body" };
const struct larder_failure larder_fail_first_byte_timeout = {
    504, LARDER_ERR_UPSTREAM_TIMEOUT, "the origin did not answer in time" };
const struct larder_failure larder_fail_read_timeout = {
    504, LARDER_ERR_UPSTREAM_TIMEOUT, "the origin stopped sending the response" };
const struct larder_failure larder_fail_write_timeout = {
    504, LARDER_ERR_UPSTREAM_TIMEOUT, "the origin stopped reading the request" };
