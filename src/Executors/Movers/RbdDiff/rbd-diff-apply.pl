# Applies an `rbd export-diff` v1 stream (stdin) onto a raw file or block device (a zvol) on a PVE node, which has
# perl (PVE is written in it) but no .NET: the same rules as RbdDiffApplier.cs, which the tests hold it to.
# Arguments: <target path> <expected from-snapshot, "" for a full diff> ; prints "applied <stream> <data> <zero> <extents>".
# Exit 3: not a diff this target may take (nothing written); 4: the stream broke; 5: the target failed; 28: it is full.
use strict;
use warnings;
use IO::Handle;

my ($path, $expected_from) = @ARGV;
sub fail { print STDERR "taquin raw writer: $_[1]\n"; exit $_[0]; }
sub refuse { fail(3, $_[0]); }
defined $expected_from or refuse("usage: perl -e <script> -- <target> <from-snapshot or empty>");
binmode STDIN;
my $stream = 0;
my $chunk = 1 << 20;

sub take {
    my ($n, $what) = @_;
    my $buf = '';
    while (length($buf) < $n) {
        my $got = sysread(STDIN, $buf, $n - length($buf), length($buf));
        defined $got or fail(4, "reading the diff stream failed at byte $stream: $!");
        $got or fail(4, "the diff stream is truncated at byte " . ($stream + length($buf)) . " (in $what)");
    }
    $stream += $n;
    return $buf;
}

take(12, 'the banner') eq "rbd diff v1\n" or refuse("not an rbd diff v1 stream (rbd export-diff writes v1)");
my ($from, $size, $tag);
while (1) {
    $tag = take(1, 'a record tag');
    if ($tag eq 'f') { $from = take(unpack('V', take(4, 'a name length')), 'the from-snapshot name'); }
    elsif ($tag eq 't') { take(unpack('V', take(4, 'a name length')), 'the to-snapshot name'); }
    elsif ($tag eq 's') { $size = unpack('Q<', take(8, 'the image size')); }
    else { last; }
}
defined $size or refuse("the diff stream has no image size record before its data (byte $stream)");
my $got_from = defined $from ? $from : '';
if ($got_from ne $expected_from) {
    refuse($got_from eq ''
        ? "the diff is a full copy but $path is expected to hold snapshot '$expected_from' already: refusing to apply a full diff as an increment"
        : "the diff starts at snapshot '$got_from' but $path holds " . ($expected_from eq '' ? 'nothing' : "'$expected_from'"));
}

# A file that did not exist is created sparse at the image size: it reads as zeroes, so zero runs need no writing.
my $created = !-e $path;
my $block_device = -b $path;
open(my $out, $created ? '+>' : '+<', $path) or fail(5, "cannot open $path: $!");
binmode $out;
if (!$block_device && -s $out < $size) { truncate($out, $size) or full_or_die("cannot size $path to $size bytes"); }

sub full_or_die {
    my ($what) = @_;
    my $full = $!{ENOSPC} || $!{EDQUOT};
    my $error = "$!";
    if ($created) { close($out); unlink($path); }
    if ($full) {
        fail(28, "$path is full ($error) after $stream bytes of the diff stream; "
            . ($created ? "the partial file was removed" : "the volume holds a partial copy and must not be used"));
    }
    fail(5, "$what: $error");
}

sub put {
    my ($offset, $bytes) = @_;
    sysseek($out, $offset, 0) or full_or_die("cannot seek $path to $offset");
    my $done = 0;
    while ($done < length($bytes)) {
        my $n = syswrite($out, $bytes, length($bytes) - $done, $done);
        defined $n or full_or_die("cannot write $path at " . ($offset + $done));
        $done += $n;
    }
}

my ($data, $zero, $extents) = (0, 0, 0);
my $zeroes = "\0" x $chunk;
while ($tag ne 'e') {
    ($tag eq 'w' || $tag eq 'z') or refuse("unknown record tag '$tag' at byte " . ($stream - 1) . " of an rbd diff v1 stream, which cannot skip records");
    my ($offset, $length) = unpack('Q<Q<', take(16, "a '$tag' record"));
    $extents++;
    if ($tag eq 'w') {
        for (my $done = 0; $done < $length; $done += $chunk) {
            my $n = $length - $done < $chunk ? $length - $done : $chunk;
            my $bytes = take($n, 'data');
            # Ceph counts an object allocated from its start, so full diffs carry zero runs: a fresh file skips them.
            if (!$created || ($bytes =~ tr/\0//c)) { put($offset + $done, $bytes); $data += $n; }
        }
    }
    else {
        $zero += $length;
        if (!$created) {
            for (my $done = 0; $done < $length; $done += $chunk) {
                put($offset + $done, $length - $done < $chunk ? substr($zeroes, 0, $length - $done) : $zeroes);
            }
        }
    }
    $tag = take(1, 'a record tag');
}

$out->sync or full_or_die("cannot flush $path");
close($out) or full_or_die("cannot close $path");
print "applied $stream $data $zero $extents\n";
