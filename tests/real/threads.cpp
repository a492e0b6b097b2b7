// threads.cpp - a threaded C++ program for tests/real_cxx_threads.sh.
//
// Producers build objects (std::make_shared records holding std::string,
// std::vector and std::map members, plus raw byte buffers of all sizes up to
// a few MB) and hand them through queues to other threads, which transform
// them and hand them on; the last stage frees them.  So nearly every block
// is freed by a thread other than the one that allocated it.  What it
// prints depends only on the data, never on the scheduling.
//
// With a file name argument it also writes there, not to stdout, one line
// "WHAT 0xADDR" per heap address worth checking: a `new int`, a
// malloc(1 << 20) block and one block allocated by each thread.
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

const int kProducers = 4;
const int kMiddle = 3;
const int kConsumers = 2;
const int kItems = 6000; // per producer

struct Record {
	int producer = 0;
	int seq = 0;
	std::string name;
	std::vector<uint32_t> values;
	std::map<std::string, int> attrs;
	std::vector<char> blob;
	std::shared_ptr<const std::string> shared_tag;
};
using RecordPtr = std::shared_ptr<Record>;

// A closable blocking queue.
template <class T> class Queue {
public:
	void push(T v)
	{
		{
			std::lock_guard<std::mutex> g(m_);
			q_.push_back(std::move(v));
		}
		cv_.notify_one();
	}
	// false once the queue is closed and empty.
	bool pop(T &out)
	{
		std::unique_lock<std::mutex> g(m_);
		cv_.wait(g, [this] { return !q_.empty() || closed_; });
		if (q_.empty())
			return false;
		out = std::move(q_.front());
		q_.pop_front();
		return true;
	}
	void close()
	{
		{
			std::lock_guard<std::mutex> g(m_);
			closed_ = true;
		}
		cv_.notify_all();
	}

private:
	std::mutex m_;
	std::condition_variable cv_;
	std::deque<T> q_;
	bool closed_ = false;
};

uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

uint64_t hash_str(const std::string &s)
{
	uint64_t h = 1469598103934665603ULL;
	for (unsigned char c : s)
		h = (h ^ c) * 1099511628211ULL;
	return h;
}

std::mutex addr_mu;
std::vector<std::pair<std::string, uintptr_t>> addrs;

void note_addr(const std::string &what, const void *p)
{
	std::lock_guard<std::mutex> g(addr_mu);
	addrs.emplace_back(what, reinterpret_cast<uintptr_t>(p));
}

// Per-result-slot totals: the slot is the producer, so sums of
// commutative values are independent of which consumer saw what.
struct Totals {
	uint64_t count = 0;
	uint64_t sum = 0;
	uint64_t blob_bytes = 0;
};

Queue<RecordPtr> stage1, stage2;
Queue<std::unique_ptr<std::vector<char>>> buffers;

void producer(int id)
{
	auto tag = std::make_shared<const std::string>("producer-" + std::to_string(id));
	note_addr("producer" + std::to_string(id), tag.get());
	for (int i = 0; i < kItems; i++) {
		uint64_t r = mix(uint64_t(id) << 32 | uint32_t(i));
		auto rec = std::make_shared<Record>();
		rec->producer = id;
		rec->seq = i;
		rec->name = std::string(1 + r % 40, char('a' + r % 26)) + "#" + std::to_string(i);
		rec->values.resize(r % 64);
		for (size_t k = 0; k < rec->values.size(); k++)
			rec->values[k] = uint32_t(mix(r + k));
		for (int k = 0; k < int(r % 5); k++)
			rec->attrs["k" + std::to_string(k) + std::string(k * 7, 'x')] = k * i;
		size_t bl;
		if (i % 997 == 0)
			bl = (1u << 20) + r % 4096 * 517; // a few large ones
		else
			bl = r % 3000;
		rec->blob.assign(bl, char(r));
		rec->shared_tag = tag;
		stage1.push(std::move(rec));
		if (i % 10 == 0) {
			auto buf = std::make_unique<std::vector<char>>(size_t(r % 20000), char(i));
			buffers.push(std::move(buf));
		}
	}
}

void middle(int id)
{
	std::vector<std::string> scratch;
	RecordPtr rec;
	bool noted = false;
	while (stage1.pop(rec)) {
		// Rewrite the record: a new string, sorted values, more attrs.
		std::string n = rec->name;
		std::reverse(n.begin(), n.end());
		rec->name = n + "/" + *rec->shared_tag;
		std::sort(rec->values.begin(), rec->values.end());
		rec->attrs["len"] = int(rec->name.size());
		scratch.push_back(rec->name);
		if (!noted) {
			note_addr("middle" + std::to_string(id), scratch.back().data());
			noted = true;
		}
		if (scratch.size() > 100)
			scratch.erase(scratch.begin(), scratch.begin() + 50);
		if (rec->blob.size() > 1000)
			rec->blob.resize(rec->blob.size() / 2);
		stage2.push(std::move(rec));
	}
}

void consumer(int id, std::vector<Totals> *out, std::map<std::string, uint64_t> *words)
{
	RecordPtr rec;
	bool noted = false;
	while (stage2.pop(rec)) {
		Totals &t = (*out)[rec->producer];
		t.count++;
		uint64_t h = hash_str(rec->name);
		for (uint32_t v : rec->values)
			h = mix(h ^ v);
		for (const auto &kv : rec->attrs)
			h = mix(h ^ hash_str(kv.first) ^ uint64_t(kv.second));
		t.sum += h;
		t.blob_bytes += rec->blob.size();
		std::string key = rec->name.substr(0, std::min<size_t>(3, rec->name.size()));
		(*words)[key]++;
		if (!noted) {
			auto probe = std::make_unique<std::string>(200, 'c');
			note_addr("consumer" + std::to_string(id), probe->data());
			noted = true;
		}
		rec.reset(); // the last reference: freed here, made elsewhere
	}
}

} // namespace

int main(int argc, char **argv)
{
	int *ip = new int(42);
	void *big = std::malloc(1 << 20);
	if (!big)
		return 1;
	std::memset(big, 1, 1 << 20);
	note_addr("new_int", ip);
	note_addr("malloc_1m", big);

	std::vector<std::thread> prod, mid, cons;
	std::vector<std::vector<Totals>> totals(kConsumers, std::vector<Totals>(kProducers));
	std::vector<std::map<std::string, uint64_t>> words(kConsumers);

	uint64_t buf_bytes = 0, buf_count = 0;
	std::thread drain([&] {
		std::unique_ptr<std::vector<char>> b;
		while (buffers.pop(b)) {
			buf_bytes += b->size();
			buf_count++;
			b.reset();
		}
	});
	for (int i = 0; i < kConsumers; i++)
		cons.emplace_back(consumer, i, &totals[i], &words[i]);
	for (int i = 0; i < kMiddle; i++)
		mid.emplace_back(middle, i);
	for (int i = 0; i < kProducers; i++)
		prod.emplace_back(producer, i);

	for (auto &t : prod)
		t.join();
	stage1.close();
	buffers.close();
	for (auto &t : mid)
		t.join();
	stage2.close();
	for (auto &t : cons)
		t.join();
	drain.join();

	for (int p = 0; p < kProducers; p++) {
		Totals all;
		for (int c = 0; c < kConsumers; c++) {
			all.count += totals[c][p].count;
			all.sum += totals[c][p].sum;
			all.blob_bytes += totals[c][p].blob_bytes;
		}
		std::printf("producer %d: count %llu sum %016llx blob %llu\n", p,
			    (unsigned long long)all.count, (unsigned long long)all.sum,
			    (unsigned long long)all.blob_bytes);
	}
	std::map<std::string, uint64_t> merged;
	for (auto &w : words)
		for (auto &kv : w)
			merged[kv.first] += kv.second;
	std::printf("keys %zu\n", merged.size());
	int shown = 0;
	for (auto &kv : merged) {
		if (shown++ % 97 == 0)
			std::printf("  %s %llu\n", kv.first.c_str(), (unsigned long long)kv.second);
	}
	std::printf("buffers %llu bytes %llu\n", (unsigned long long)buf_count,
		    (unsigned long long)buf_bytes);
	std::printf("new_int %d\n", *ip);

	if (argc > 1) {
		FILE *f = std::fopen(argv[1], "w");
		if (!f)
			return 1;
		for (auto &a : addrs)
			std::fprintf(f, "%s 0x%llx\n", a.first.c_str(), (unsigned long long)a.second);
		std::fclose(f);
	}
	delete ip;
	std::free(big);
	return 0;
}
