#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmalloc.h"
void lk_drop(void); void *lk_get(void);
int main(int argc,char**argv){
 if(!strcmp(argv[1],"setup")){ lk_drop(); for(int i=0;i<8;i++){char*x=malloc(32); strcpy(x,"SOMEONE ELSE'S");}
   int rc=pm_checkpoint(argv[2]); printf("ckpt %d value now %p\n",rc,lk_get()); return 0; }
 printf("before restore: value %p \"%s\"\n", lk_get(), (char*)lk_get());
 int rc=pm_restore(argv[2]); if(rc){printf("restore %d %s\n",rc,pm_errmsg());return 1;}
 char *v=lk_get(); printf("after restore: value %p \"%s\" (checkpointed value was NULL)\n",(void*)v,v?v:"(null)"); return 0;}
