# usage: prelude.py TRACE.csv.gz STEP [CBID_HEADER]: host runtime-API calls of one decode step before its first launch, and its memcpys
import gzip, re, collections, sys
cb={}
for l in open(sys.argv[3] if len(sys.argv)>3 else '/usr/local/cuda-13.0/include/cupti_runtime_cbid.h'):
    m=re.match(r"\s*CUPTI_RUNTIME_TRACE_CBID_(\w+)\s*=\s*(\d+)",l)
    if m: cb[int(m.group(2))]=m.group(1)
K=[];R=[];M=[]
for l in gzip.open(sys.argv[1],'rt'):
    t=l.rstrip().split(',')
    if t[0]=='K': K.append((int(t[1]),int(t[2]),int(t[6])))
    elif t[0]=='R': R.append((int(t[2]),int(t[3]),int(t[1]),int(t[5])))
    elif t[0]=='M': M.append((int(t[3]),int(t[4]),int(t[1]),int(t[2]),int(t[7])))
K.sort();R.sort();M.sort()
mc={m[4]:m for m in M}
logits=[m for m in M if m[2]==2 and m[3]==513024]
# step boundaries as in analyze
bycorr={r[3]:r for r in R}
ends=[]
for m in logits:
    api=bycorr[m[4]]
    s=[r for r in R if r[0]>=api[0] and 'Synchronize' in cb[r[2]]][0]
    ends.append(s[1])
step=int(sys.argv[2])
a,b=ends[step-1],ends[step]
rs=[r for r in R if a<r[0]<=b]
first=[r for r in rs if 'Launch' in cb[r[2]]][0][0]
print("prelude ms", (first-a)/1e6)
prev=a
for r in rs:
    if r[0]>first: break
    extra=''
    if r[3] in mc: extra=f" bytes={mc[r[3]][3]} kind={mc[r[3]][2]}"
    print(f"  +{(r[0]-a)/1e6:7.3f} gap {(r[0]-prev)/1e6:6.3f} dur {(r[1]-r[0])/1e6:6.3f} {cb[r[2]]}{extra}")
    prev=r[1]
# memcpy DtoD summary in step
dd=collections.Counter(); dt=collections.defaultdict(float)
for m in M:
    if a<m[0]<=b:
        key=(m[2],m[3]); dd[key]+=1; dt[key]+=(m[1]-m[0])/1e6
print("memcpys in step (kind,bytes): count, ms")
for k,v in sorted(dt.items(), key=lambda x:-x[1])[:15]: print("  ",k,dd[k],round(v,3))
print("total memcpy ms", round(sum(dt.values()),3))
