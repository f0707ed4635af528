# usage: grid.py TRACE.csv.gz N_ROWS [NAME_WIDTH]: kernels of decode steps 6.. split by grid size (ms/step, launches/step, avg us)
import gzip, re, collections, sys, subprocess
K=[];M=[];names={}
for l in gzip.open(sys.argv[1],'rt'):
    if l.startswith('N,'):
        t=l.rstrip('\n').split(',',2); names[int(t[1])]=t[2]; continue
    t=l.rstrip().split(',')
    if t[0]=='K': K.append((int(t[1]),int(t[2]),int(t[6]),int(t[7]),int(t[8])))
    elif t[0]=='M': M.append((int(t[3]),int(t[4]),int(t[1]),int(t[2])))
K.sort(); M.sort()
logits=[m for m in M if m[2]==2 and m[3]==513024]
a=logits[5][1]; b=logits[-1][1]; n=len(logits)-1-5
idx=sorted(names); dem=subprocess.run(['c++filt'],input='\n'.join(names[i] for i in idx),capture_output=True,text=True).stdout.split('\n')
dem=dict(zip(idx,dem))
def short(s):
    s=s[5:] if s.startswith('void ') else s
    d=0
    for i,c in enumerate(s):
        if c=='<': d+=1
        elif c=='>': d-=1
        elif c=='(' and d==0: return s[:i]
    return s
g=collections.defaultdict(lambda:[0,0.0])
for k in K:
    if a<k[0]<=b:
        key=(short(dem[k[2]])[:int(sys.argv[3]) if len(sys.argv)>3 else 70],k[3],k[4]); g[key][0]+=1; g[key][1]+=(k[1]-k[0])/1e6
rows=sorted(g.items(), key=lambda x:-x[1][1])
print("ms/step  launches/step  avg_us  grid block  kernel")
for (nm,gr,bl),(c,t) in rows[:int(sys.argv[2])]:
    print(f"{t/n:7.3f} {c/n:7.1f} {1000*t/c:8.1f} {gr:8d} {bl:5d}  {nm}")
