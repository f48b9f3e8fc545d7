#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The projection in docs/bench/stages.md: fitpack and the codec limit at N cores from
# one-thread stage costs measured by bench/stages (CPU s, bench workload, session 7).
# An ideal-scheduling model: see docs/bench/stages.md for what it leaves out.
#   python3 bench/stages-projection.py
read_all = 0.0353 * 110.2 / 68.25          # reading every input (DTB read rate applied to 110 MB)
p_list = 0.0353 + 0.0782 + 0.0072         # DTB read + fdt_check_full + crc32 key: on the workers
s_list = max(0.0, 0.1251 - p_list)        # make_kernel_fit -j1 minus those: the main thread's assembly
wr_per_mb = 0.0352 / 110.2                 # write(2)
fs_per_mb = 0.108 / 110.2                  # fsync (wall)
# codec: (kernel compress, dtbs compress, sha kernel, sha dtbs, output MB, segmented, kernel one task)
C = {
 "none":  (0.0,    0.0,    0.0224, 0.0363, 110.2, False, False),
 "gzip":  (0.6315, 0.6493, 0.0076, 0.0081, 27.1, True,  False),
 "zstd":  (0.2222, 0.1283, 0.0071, 0.0081, 26.8, False, False),
 "lz4":   (0.1275, 0.0787, 0.0114, 0.0145, 45.3, True,  False),
 "lzo":   (0.1632, 0.1072, 0.0112, 0.0132, 42.4, True,  False),
 "bzip2": (2.9143, 4.7888, 0.0083, 0.0072, 25.2, False, True),
 "lzma":  (18.2333, 17.9405, 0.0044, 0.0064, 17.1, False, True),
}
print("| codec | N | fitpack now | limit | now/limit | kernel overlapped | overlapped/limit | serial stage that bounds it |")
print("|---|---|---|---|---|---|---|---|")
for name, (ck, cd, hk, hd, out, seg, one) in C.items():
    for n in (1, 2, 8, 16):
        wr, fs = wr_per_mb * out, fs_per_mb * out
        h = hk + hd
        h_ser = h if seg else 0.0            # segmented images: hashed on the writing thread
        par = read_all + ck + cd + (0.0 if seg else h)
        writer = h_ser + wr
        kernel_task = ck if one else 0.0
        mkf = s_list + p_list / n
        if n == 1:
            now = mkf + par + writer + fs
            ovl = now
            lim = read_all + ck + cd + h + wr + fs
        else:
            now = mkf + max(par / n, writer, kernel_task) + fs
            ovl = s_list + max((p_list + par) / n, writer, kernel_task) + fs
            lim = max((read_all + ck + cd + h) / n, wr, kernel_task, hk if seg else 0.0) + fs
        bound = max([("workers", par / n), ("writing thread", writer), ("kernel, one task", kernel_task)], key=lambda x: x[1])[0]
        print(f"| {name} | {n} | {now:.3f} | {lim:.3f} | {now/lim:.2f} | {ovl:.3f} | {ovl/lim:.2f} | {bound if n > 1 else '-'} |")
