/*
 * arith: the wide integer the allocator, admission and measurement compute in, so that rates
 * times weights or times nanoseconds never overflow 64 bits.
 */
#ifndef DBAVM_ARITH_H
#define DBAVM_ARITH_H

__extension__ typedef unsigned __int128 u128;

#endif
