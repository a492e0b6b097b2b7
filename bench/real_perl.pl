# real_perl.pl - an allocation-heavy Perl script for bench/run.py.
# Run as `perl bench/real_perl.pl` with PERL_HASH_SEED=0 and
# PERL_PERTURB_KEYS=0.  Debian's perl uses the system malloc.
# Deterministic: it prints the same lines under every allocator.
use strict;
use warnings;

my $x = 4242;
sub lcg { $x = ($x * 1103515245 + 12345) & 0x7FFFFFFF; return $x; }

# Records as hashes of strings, a word count, an inverted index.
my (@recs, %count, %index);
for my $i (0 .. 99999) {
	my $r = lcg();
	my $w = sprintf("k%d_%s", $r % 6151, "xy" x ($r % 11));
	push @recs, { id => $i, word => $w, len => length $w };
	$count{$w}++;
	push @{ $index{substr($w, 0, 3)} }, $i;
}
# Text built, split and parsed back.
my $text = join(";", map { "$_=$count{$_}" } sort keys %count);
my %back = map { split /=/ } split /;/, $text;
# Short-lived arrays and strings, regex substitutions.
my $total = 0;
for my $round (1 .. 10) {
	my @tmp = map { [$_, "v" . ($_ * $round), "z" x ($_ % 50)] } 0 .. 14999;
	$total += length($_->[2]) for @tmp;
	my $s = join(",", map { $_->[1] } @tmp);
	(my $t = $s) =~ s/v(\d)/V$1$1/g;
	$total += length $t;
}
# Delete half of the records and their words, then rebuild.
@recs = grep { $_->{id} % 2 } @recs;
delete $count{$_->{word}} for @recs;
my $sum = 0;
$sum += $_->{len} for @recs;
printf "recs %d distinct %d left %d index %d\n", scalar @recs,
    scalar keys %back, scalar keys %count, scalar keys %index;
printf "text %d %s %s\n", length $text, substr($text, 0, 30),
    substr($text, -30);
printf "total %d sum %d\n", $total, $sum;
