namespace Taquin.Executors.Tests.Movers.Progress;

/// <summary>
/// Progress output captured on the test bed (Ceph 16.2.15, qemu-img 7.2.22, GNU dd 9.1), byte for byte
/// (<c>2&gt;file</c>, then <c>cat -A</c>): <c>\r</c> and <c>\n</c> are where the tools put them.
/// </summary>
internal static class ToolProgressSamples
{
    /// <summary><c>rbd export-diff img@s1 -</c>, 64 MiB image written in full (16 objects of 4 MiB).</summary>
    public const string RbdExportDiffFull =
        "\rExporting image: 6% complete...\rExporting image: 12% complete...\rExporting image: 18% complete...\rExporting image: 25% complete..." +
        "\rExporting image: 31% complete...\rExporting image: 37% complete...\rExporting image: 43% complete...\rExporting image: 50% complete..." +
        "\rExporting image: 56% complete...\rExporting image: 62% complete...\rExporting image: 68% complete...\rExporting image: 75% complete..." +
        "\rExporting image: 81% complete...\rExporting image: 87% complete...\rExporting image: 93% complete...\rExporting image: 100% complete...done.\n";

    /// <summary>The same on a 256 MiB image with data at 0–4 MiB and 16–20 MiB only (<c>rbd diff</c>: two extents).</summary>
    public const string RbdExportDiffSparse = "\rExporting image: 6% complete...\rExporting image: 100% complete...done.\n";

    /// <summary><c>rbd export-diff --from-snap nosuch img@s1 -</c> (exit 2).</summary>
    public const string RbdExportDiffError = "\rExporting image: 0% complete...failed.\nrbd: export-diff error: (2) No such file or directory\n";

    /// <summary><c>qemu-img convert -p -f qcow2 -O raw</c> of a 256 MiB qcow2 with 32 MiB written, on stdout.</summary>
    public const string QemuImgConvert =
        "    (0.00/100%)\r    (6.25/100%)\r    (12.50/100%)\r    (18.75/100%)\r    (25.00/100%)\r    (31.25/100%)\r    (37.50/100%)\r" +
        "    (43.75/100%)\r    (50.00/100%)\r    (56.25/100%)\r    (62.50/100%)\r    (68.75/100%)\r    (75.00/100%)\r    (81.25/100%)\r" +
        "    (87.50/100%)\r    (93.75/100%)\r    (100.00/100%)\r    (100.00/100%)\r\n";

    /// <summary><c>dd if=300MiB bs=4M status=progress | (sleep 2.5; cat)</c>: progress records, then the summary.</summary>
    public const string DdStatusProgress =
        "\r4194304 bytes (4.2 MB, 4.0 MiB) copied, 3 s, 1.7 MB/s\r8388608 bytes (8.4 MB, 8.0 MiB) copied, 3 s, 3.3 MB/s" +
        "\r297795584 bytes (298 MB, 284 MiB) copied, 3 s, 99.2 MB/s\n75+0 records in\n75+0 records out\n" +
        "314572800 bytes (315 MB, 300 MiB) copied, 3.08745 s, 102 MB/s\n";
}
