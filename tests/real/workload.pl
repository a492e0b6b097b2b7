# workload.pl - a deterministic allocation-heavy Perl run for
# tests/real_perl.sh: hashes, regexes, sort, string building.
#
# Prints its results to stdout.  With a file name argument it also writes
# there, not to stdout, the address of a large string's buffer (perl keeps
# string buffers in malloc'd memory; pack "p" gives the pointer) and the Rss
# of the mappings /proc/self/smaps shows in the heap region.
use strict;
use warnings;

my $x = 987654321;
sub rnd {
	$x = ($x * 1103515245 + 12345) % 2147483648;
	return $x >> 8;
}

sub word {
	my $k = 1 + rnd() % 10;
	my $w = '';
	$w .= chr(97 + rnd() % 26) for 1 .. $k;
	return $w;
}

sub sum32 {
	my $s = 0;
	$s = ($s * 31 + ord($_)) % 4294967291 for split //, $_[0];
	return $s;
}

# Hashes.
my %count;
my @words = map { word() } 1 .. 60000;
$count{$_}++ for @words;
printf "words %d distinct %d\n", scalar(@words), scalar(keys %count);
my @top = (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count)[0 .. 9];
print "top ", join(",", map { "$_=$count{$_}" } @top), "\n";
delete $count{$_} for grep { length($_) % 3 == 0 } keys %count;
printf "after-delete %d\n", scalar(keys %count);

my %nested;
for my $i (0 .. 19999) {
	my $w = $words[$i];
	push @{ $nested{ substr($w, 0, 1) }{ length $w } }, $i;
	$nested{ substr($w, 0, 1) }{total} += $i;
}
for my $k (sort keys %nested) {
	my $h = $nested{$k};
	my @lens = sort { $a <=> $b } grep { $_ ne 'total' } keys %$h;
	printf "nested %s total=%d lens=%s n=%d\n", $k, $h->{total},
	  join('/', @lens), scalar(map { @{ $h->{$_} } } @lens);
}

# String building.
my $buf = '';
for my $i (0 .. 50000) {
	$buf .= sprintf("%05d:%s;", $i, $words[$i % @words]);
	$buf = substr($buf, 1000) if length($buf) > 200000;
}
my $joined = join '|', reverse @words[0 .. 9999];
my $rep = ('ab' x 1000) . ('c' x 100000);
printf "buf %d joined %d rep %d\n", length $buf, length $joined, length $rep;

# Regexes: match, capture, substitute, split, tr.
my $text = join ' ', @words;
my @caps = $text =~ /\b([aeiou][a-z]{3})\b/g;
printf "caps %d first %s last %s\n", scalar @caps, $caps[0], $caps[-1];
(my $t2 = $text) =~ s/([aeiou])([a-z])/$2$1/g;
(my $t3 = $t2) =~ tr/a-m/n-z/;
my $n = () = $t3 =~ /zz+/g;
printf "subst %d tr %d zz %d sum %d\n", length $t2, length $t3, $n, sum32(substr($t3, 0, 5000));
my %byfirst;
for (split /\s+/, $text) {
	/^(.)(.*)$/ or next;
	$byfirst{$1} .= $2;
}
printf "byfirst %s\n", join ',', map { "$_:" . length $byfirst{$_} } sort keys %byfirst;

# Sorts.
my @nums = map { rnd() % 1000003 } 1 .. 200000;
my @s1 = sort { $a <=> $b } @nums;
my @s2 = sort { length($a) <=> length($b) or $a cmp $b } @words;
printf "sort %s .. %s; %s .. %s\n", join(',', @s1[0 .. 4]), join(',', @s1[-3 .. -1]),
  join(',', @s2[0 .. 3]), join(',', @s2[-2 .. -1]);

# Arrays of arrays, growing and shrinking.
my @aoa = map { [ $_, "v$_" x ($_ % 7), [ ($_) x ($_ % 5) ] ] } 0 .. 99999;
splice @aoa, 1000, 50000;
printf "aoa %d last %s\n", scalar @aoa, $aoa[-1][1];

if (@ARGV) {
	my $big = 'z' x 1000000;
	my $addr = unpack('J', pack('p', $big));
	my $lo = hex($ARGV[1] // '0xe0000000');
	my $hi = $lo + 4 * 1024 * 1024 * 1024;
	my ($rss, $inside) = (0, 0);
	open my $fh, '<', '/proc/self/smaps' or die "smaps: $!";
	while (my $l = <$fh>) {
		if ($l =~ /^([0-9a-f]+)-([0-9a-f]+) /) {
			$inside = hex($1) >= $lo && hex($2) <= $hi;
		} elsif ($inside && $l =~ /^Rss:\s+(\d+)/) {
			$rss += $1;
		}
	}
	close $fh;
	open my $out, '>', $ARGV[0] or die "$ARGV[0]: $!";
	printf $out "addr=0x%x region_rss_kb=%d\n", $addr, $rss;
	close $out;
}
